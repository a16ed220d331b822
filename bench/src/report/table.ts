/**
 * The results of one backend as rows — one per workload and target, with its figure, the ratios
 * against the raw driver and against Emmett (above 1 always means better than them: for latency
 * the ratio is their latency over ours), and the correctness checks — rendered for the terminal
 * or as Markdown.
 */
import type { Workload } from '../workloads/types.js';
import { formatFigure, formatRatio } from './format.js';
import type { BackendRun, Cell, WorkloadRun } from './model.js';

export interface Row {
  readonly workload: string;
  readonly target: string;
  readonly figure: string;
  readonly more: string;
  readonly vsFloor: string;
  readonly vsAnchor: string;
  readonly vsPeer: string;
  readonly checks: string;
}

const HEADERS: Row = { workload: 'Workload', target: 'Target', figure: 'Figure', more: 'Also', vsFloor: 'vs floor', vsAnchor: 'vs raw', vsPeer: 'vs Emmett', checks: 'Checks / notes' };

/** The headline figure of a cell, when it has one worth comparing (a failed run's is not). */
export function primaryValue(run: Pick<WorkloadRun, 'primary'>, cell: Cell | undefined): number | undefined {
  if (!cell || cell.status !== 'ok') return undefined;
  const value = cell.output?.figures[run.primary.key];
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

/** How much better `cell` did than `other`: above 1 is better, whichever way the figure points. */
export function ratio(run: WorkloadRun, cell: Cell | undefined, other: Cell | undefined): number | undefined {
  const a = primaryValue(run, cell);
  const b = primaryValue(run, other);
  if (a === undefined || b === undefined || a === 0 || b === 0) return undefined;
  return run.primary.better === 'higher' ? a / b : b / a;
}

export function cellOf(backend: BackendRun, run: WorkloadRun, role: 'anchor' | 'floor' | 'subject' | 'peer'): Cell | undefined {
  const target = backend.targets.find((t) => t.role === role);
  return target && run.cells.find((c) => c.target === target.id);
}

export function rows(backend: BackendRun): Row[] {
  const out: Row[] = [];
  for (const run of backend.workloads) {
    const anchor = cellOf(backend, run, 'anchor');
    const floor = cellOf(backend, run, 'floor');
    const peer = cellOf(backend, run, 'peer');
    for (const cell of run.cells) {
      const value = cell.output?.figures[run.primary.key];
      const figure =
        cell.status === 'timeout' ? 'timeout' : cell.status === 'unavailable' ? 'n/a' : `${cell.status === 'failed' ? '✗ ' : ''}${formatFigure(value)} ${run.primary.unit}`;
      // The median of the passes (or of a workload's repeated reads) beside the best, where there are several.
      const median = cell.output?.figures['median'];
      const more = [...(median === undefined ? [] : [`median ${formatFigure(median)}`]), ...run.secondary.map((s) => `${s.label} ${formatFigure(cell.output?.figures[s.key])}`)].join(', ');
      const checks = [
        ...(cell.output?.checks ?? []).map((c) => `${c.ok ? '✓' : '✗'} ${c.name} (${c.detail})`),
        ...(cell.output?.notes ?? []),
        ...(cell.reason ? [cell.reason] : []),
      ].join('; ');
      out.push({
        workload: `${run.workload}`,
        target: cell.target,
        figure,
        more: cell.output ? more : '',
        vsFloor: cell === floor ? '1.00×' : floor ? formatRatio(ratio(run, cell, floor)) : '',
        vsAnchor: cell === anchor ? '1.00×' : formatRatio(ratio(run, cell, anchor)),
        vsPeer: cell === peer ? '1.00×' : formatRatio(ratio(run, cell, peer)),
        checks,
      });
    }
  }
  return out;
}

/** A one-line summary of a cell, for the progress log. */
export function formatCell(workload: Pick<Workload, 'primary' | 'secondary'>, cell: Cell): string {
  if (cell.status === 'timeout') return `TIMEOUT: ${cell.reason ?? ''}`;
  if (cell.status === 'unavailable') return `unavailable: ${cell.reason ?? ''}`;
  if (!cell.output) return `FAILED: ${cell.reason ?? ''}`;
  const figures = cell.output.figures;
  const parts = [`${formatFigure(figures[workload.primary.key])} ${workload.primary.unit}`];
  for (const s of workload.secondary ?? []) parts.push(`${s.label} ${formatFigure(figures[s.key])}`);
  const failed = cell.status === 'failed' ? `  FAILED: ${cell.reason ?? ''}` : '';
  return `${parts.join(', ')}  (${(cell.elapsedMs / 1000).toFixed(1)} s)${failed}`;
}

export function renderTerminal(backend: BackendRun, width = 140): string {
  const all = [HEADERS, ...rows(backend)];
  const keys: (keyof Row)[] = ['workload', 'target', 'figure', 'more', 'vsFloor', 'vsAnchor', 'vsPeer'];
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const used = widths.reduce((a, b) => a + b + 2, 0);
  const notesWidth = Math.max(20, width - used);
  const lines = all.map((row, i) => {
    const cells = keys.map((k, j) => (k === 'vsFloor' || k === 'vsAnchor' || k === 'vsPeer' ? row[k].padStart(widths[j]!) : row[k].padEnd(widths[j]!)));
    const notes = row.checks.length > notesWidth ? `${row.checks.slice(0, notesWidth - 1)}…` : row.checks;
    const line = `${cells.join('  ')}  ${notes}`.trimEnd();
    return i === 0 ? `${line}\n${'-'.repeat(Math.min(width, used + notesWidth))}` : line;
  });
  return lines.join('\n');
}

export function renderMarkdown(backend: BackendRun): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|');
  const keys: (keyof Row)[] = ['workload', 'target', 'figure', 'more', 'vsFloor', 'vsAnchor', 'vsPeer', 'checks'];
  const header = `| ${keys.map((k) => HEADERS[k]).join(' | ')} |`;
  const rule = `|${keys.map((k) => (k === 'vsFloor' || k === 'vsAnchor' || k === 'vsPeer' ? '---:' : '---')).join('|')}|`;
  const body = rows(backend).map((row) => `| ${keys.map((k) => escape(row[k])).join(' | ')} |`);
  return [header, rule, ...body].join('\n');
}
