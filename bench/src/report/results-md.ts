/**
 * Writes `bench/RESULTS.md` from a run report: the machine and versions, then per backend the
 * table and the acceptance targets met or missed. A hand-written analysis between the
 * `<!-- analysis -->` markers of the existing file is kept across rewrites.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PAYLOAD_BYTES } from '../payload.js';
import { judge } from './acceptance.js';
import type { BackendRun, RebuildResults, RunReport } from './model.js';
import { renderMarkdown } from './table.js';

const ANALYSIS = /<!-- analysis -->[\s\S]*?<!-- \/analysis -->/;
const ANALYSIS_END = '<!-- /analysis -->';

export function writeResultsMarkdown(path: string, report: RunReport, rebuildPath?: string): void {
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const rebuild = rebuildPath === undefined ? undefined : readRebuildResults(rebuildPath);
  // Sections others wrote by hand after the analysis (the outbox and queue benches') are kept too.
  const end = previous.indexOf(ANALYSIS_END);
  const tail = end < 0 ? '' : previous.slice(end + ANALYSIS_END.length).replace(/^\n+/, '');
  const analysis = previous.match(ANALYSIS)?.[0] ?? '<!-- analysis -->\n_No analysis written yet._\n<!-- /analysis -->';
  writeFileSync(path, renderResults({ ...report, rebuild }, analysis) + (tail ? `\n${tail}` : ''));
}

export function renderResults(report: RunReport & { readonly rebuild?: RebuildResults | undefined }, analysis: string): string {
  const m = report.machine;
  const runs = Object.values(report.backends);
  const dates = runs.map((r) => r.finishedAt.slice(0, 10)).filter((d, i, all) => all.indexOf(d) === i);
  const out: string[] = [
    '# Benchmark results',
    '',
    'Written by `npm run bench -- write-results` (or `render-results`) from `bench/results/latest.json`; see `bench/README.md` for what each',
    `workload measures and how fairness is kept. Payload: an \`OrderCreated\` with two items, ${PAYLOAD_BYTES} bytes of JSON.`,
    'Ratios above 1 mean Eventloom (or the row\'s target) did better than the raw driver / Emmett; for latency the ratio is',
    'their latency over ours. ✗ marks a run that failed a check or errored; its figure is not compared.',
    '',
    '## Machine',
    '',
    '| | |',
    '|---|---|',
    `| Date | ${dates.join(', ') || 'unknown'} (each backend's run times are given below) |`,
    `| CPUs (\`nproc\`) | ${m.cpus} × ${m.cpuModel} |`,
    `| Memory | ${m.memoryGiB} GiB |`,
    `| Kernel | ${m.kernel} |`,
    `| Node | ${m.node} |`,
    `| SQLite | ${m.sqlite} (better-sqlite3: raw anchor, Eventloom); ${m.sqliteForEmmett} (node-sqlite3: Emmett) |`,
    `| PostgreSQL | ${m.postgres} |`,
    `| Packages | ${Object.entries(m.packages).map(([name, version]) => `${name} ${version}`).join(', ')} |`,
    '',
    'The machine is shared with other work (2 cores); figures move by ±15% between runs. Compare within a run.',
    '',
  ];
  for (const backend of ['sqlite', 'postgres'] as const) {
    const run = report.backends[backend];
    if (run) out.push(...renderBackend(run));
  }
  if (report.rebuild) {
    out.push('## Projection rebuild', '', '`npm run -w @eventloom/bench rebuild` (`bench/src/projections-rebuild.ts`), the last full run of each backend.', '');
    for (const [backend, run] of Object.entries(report.rebuild.backends)) {
      out.push(`### ${backend}: ${run.finishedAt}, load average ${run.load}`, '', run.table, '');
    }
  }
  out.push('## Analysis', '', analysis, '');
  return out.join('\n');
}

/** The rebuild benchmark's last full run, which it writes beside the workloads' results. */
export function readRebuildResults(path: string): RebuildResults | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as RebuildResults;
}

function renderBackend(run: BackendRun): string[] {
  const title = run.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  const out = [`## ${title}`, '', `${run.setting}. Run ${run.startedAt} → ${run.finishedAt}${run.quick ? ' — **quick smoke sizes, not comparable figures**' : ''}.`, ''];
  if (run.skipped) return [...out, `Skipped: ${run.skipped}`, ''];
  out.push(renderMarkdown(run), '', `### ${title}: acceptance targets`, '');
  for (const j of judge(run)) {
    const mark = j.verdict === 'met' ? '✅ met' : j.verdict === 'missed' ? '❌ missed' : '⚪ not measured';
    out.push(`- ${mark} — **${j.target}**: ${j.detail}`);
  }
  out.push('');
  return out;
}
