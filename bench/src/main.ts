/**
 * `npm run bench`: Eventloom beside the raw drivers and Emmett, side by side in one run, per
 * backend. Prints progress and a table per backend, writes the run as JSON to
 * `bench/results/latest.json` (quick runs: `quick.json`), and with `--write-results` rewrites
 * `bench/RESULTS.md`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseOptions, USAGE, type Options } from './cli.js';
import { machineInfo } from './report/machine.js';
import type { BackendRun, RunReport } from './report/model.js';
import { judge } from './report/acceptance.js';
import { writeResultsMarkdown } from './report/results-md.js';
import { renderTerminal } from './report/table.js';
import { postgresUrl } from './runner/resources.js';
import { runBackend } from './runner/run-backend.js';
import { FULL, QUICK } from './sizes.js';
import type { Backend } from './target.js';
import { targetsOf } from './targets/index.js';

const BENCH = fileURLToPath(new URL('../', import.meta.url));
const RESULTS_DIR = `${BENCH}results/`;
const LATEST = `${RESULTS_DIR}latest.json`;
/** The rebuild benchmark's last full run (written by projections-rebuild.ts). */
const REBUILD = `${RESULTS_DIR}rebuild.json`;
const RESULTS_MD = `${BENCH}RESULTS.md`;

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
    return;
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (options.renderOnly) {
    writeResultsMarkdown(RESULTS_MD, readReport(LATEST) ?? fail(`${LATEST} does not exist yet: run the benchmark first`), REBUILD);
    console.log(`wrote ${RESULTS_MD}`);
    return;
  }

  const backends: Backend[] = options.only ? [options.only] : ['sqlite', 'postgres'];
  const sizes = options.quick ? QUICK : FULL;
  mkdirSync(RESULTS_DIR, { recursive: true });
  const workerExecArgv = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}profiles`] : [];
  const machine = await machineInfo(backends.includes('postgres') ? postgresUrl() : undefined);
  console.log(`Eventloom benchmarks — ${options.quick ? 'QUICK smoke sizes' : 'full sizes'}; ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`);

  const runs: Partial<Record<Backend, BackendRun>> = {};
  for (const backend of backends) {
    const targets = targetsOf(backend).filter((t) => !options.targets || options.targets.includes(t.id));
    const setting =
      backend === 'sqlite'
        ? `SQLite ${machine.sqlite} (Emmett: ${machine.sqliteForEmmett}), WAL, synchronous=FULL, a file per target`
        : `PostgreSQL ${machine.postgres}, a schema per target, pools of 16 connections`;
    const run = await runBackend(backend, {
      sizes,
      quick: options.quick,
      targets,
      ...(options.workloads ? { workloads: options.workloads } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      workerExecArgv,
      setting,
      log: (line) => console.log(line),
    });
    runs[backend] = run;
    printBackend(run);
  }

  // A run of one backend keeps the other's last figures, so RESULTS.md always shows both. Smoke
  // runs and runs of a subset of targets or workloads are kept apart from the full results.
  const partial = options.targets !== undefined || options.workloads !== undefined;
  const path = options.quick ? `${RESULTS_DIR}quick.json` : partial ? `${RESULTS_DIR}partial.json` : LATEST;
  if (options.writeResults && path !== LATEST) console.log(`not rewriting ${RESULTS_MD}: this was not a full run`);
  const previous = readReport(path);
  // The PostgreSQL version is only looked up when PostgreSQL runs; keep the one its figures came with.
  const postgres = runs.postgres || !previous ? machine.postgres : previous.machine.postgres;
  const report: RunReport = { machine: { ...machine, postgres }, backends: { ...(previous?.backends ?? {}), ...runs } };
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${path}`);
  if (options.writeResults && path === LATEST) {
    writeResultsMarkdown(RESULTS_MD, report, REBUILD);
    console.log(`wrote ${RESULTS_MD}`);
  }
}

function printBackend(run: BackendRun): void {
  console.log(`\n== ${run.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${run.setting}`);
  if (run.skipped) {
    console.log(`skipped: ${run.skipped}`);
    return;
  }
  console.log(renderTerminal(run, process.stdout.columns || 160));
  console.log('\nAcceptance targets:');
  for (const j of judge(run)) console.log(`  ${j.verdict.toUpperCase().padEnd(12)} ${j.target}: ${j.detail}`);
}

function readReport(path: string): RunReport | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunReport;
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  throw new Error(message);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
