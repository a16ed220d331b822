/** The benchmark targets of issues 2 (SQLite) and 3 (PostgreSQL), judged against a run. */
import type { Backend } from '../target.js';
import type { WorkloadId } from '../workloads/types.js';
import { formatFigure, formatRatio } from './format.js';
import type { BackendRun, WorkloadRun } from './model.js';
import { cellOf, primaryValue, ratio } from './table.js';

export type Verdict = 'met' | 'missed' | 'not measured';

export interface Judgement {
  readonly backend: Backend;
  readonly target: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

interface Criterion {
  readonly backend: Backend;
  readonly text: string;
  judge(run: BackendRun): { verdict: Verdict; detail: string };
}

/** Eventloom's figure on `workload` is at least `min` times the anchor's (or the peer's). */
function atLeast(backend: Backend, workload: WorkloadId, against: 'anchor' | 'floor' | 'peer', min: number, extra = ''): Criterion {
  const name = against === 'anchor' ? 'raw' : against === 'floor' ? 'floor' : 'Emmett';
  return {
    backend,
    text: `${workload} ≥ ${min}× ${name}${extra}`,
    judge(run) {
      const w = find(run, workload);
      if (!w) return notMeasured(`${workload} did not run`);
      const subject = cellOf(run, w, 'subject');
      const other = cellOf(run, w, against);
      if (subject?.status !== 'ok') return notMeasured(`Eventloom: ${subject?.status ?? 'absent'}${subject?.reason ? ` (${subject.reason})` : ''}`);
      const r = ratio(w, subject, other);
      if (r === undefined) return notMeasured(`${name}: ${other?.status ?? 'absent'}${other?.reason ? ` (${other.reason})` : ''}`);
      const figures = `${formatFigure(primaryValue(w, subject))} vs ${formatFigure(primaryValue(w, other))} ${w.primary.unit}`;
      return r >= min
        ? { verdict: 'met', detail: `${formatRatio(r)} (${figures})` }
        : { verdict: 'missed', detail: `${formatRatio(r)}, short by ${Math.round((1 - r / min) * 100)}% (${figures})` };
    },
  };
}

/** Every check of Eventloom's run of `workload` passed. */
function checksPass(backend: Backend, workload: WorkloadId, text: string): Criterion {
  return {
    backend,
    text,
    judge(run) {
      const w = find(run, workload);
      const subject = w && cellOf(run, w, 'subject');
      if (!subject?.output) return notMeasured(`Eventloom: ${subject?.status ?? 'absent'}${subject?.reason ? ` (${subject.reason})` : ''}`);
      const failed = subject.output.checks.filter((c) => !c.ok);
      const all = subject.output.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`).join('; ');
      return failed.length === 0 && subject.status === 'ok'
        ? { verdict: 'met', detail: all }
        : { verdict: 'missed', detail: subject.reason ?? all };
    },
  };
}

/** Eventloom's figure on `workload` is at least `min` times its own on `baseline` (the same work without a feature). */
function atLeastOwn(backend: Backend, workload: WorkloadId, baseline: WorkloadId, min: number, extra = ''): Criterion {
  return {
    backend,
    text: `${workload} ≥ ${min}× ${baseline}${extra}`,
    judge(run) {
      const w = find(run, workload);
      const b = find(run, baseline);
      if (!w || !b) return notMeasured(`${!w ? workload : baseline} did not run`);
      const subject = cellOf(run, w, 'subject');
      const base = cellOf(run, b, 'subject');
      if (subject?.status !== 'ok' || base?.status !== 'ok') {
        return notMeasured(`Eventloom: ${subject?.status ?? 'absent'} / ${base?.status ?? 'absent'}${subject?.reason ? ` (${subject.reason})` : ''}`);
      }
      const a = primaryValue(w, subject);
      const c = primaryValue(b, base);
      if (a === undefined || c === undefined || c === 0) return notMeasured('no figure');
      const r = a / c;
      const figures = `${formatFigure(a)} vs ${formatFigure(c)} ${w.primary.unit}`;
      return r >= min
        ? { verdict: 'met', detail: `${formatRatio(r)} (${figures})` }
        : { verdict: 'missed', detail: `${formatRatio(r)}, short by ${Math.round((1 - r / min) * 100)}% (${figures})` };
    },
  };
}

function latencyUnder(backend: Backend, workload: WorkloadId, maxMs: number): Criterion {
  return {
    backend,
    text: `${workload} p99 < ${maxMs} ms`,
    judge(run) {
      const w = find(run, workload);
      const subject = w && cellOf(run, w, 'subject');
      const p99 = subject?.status === 'ok' ? subject.output?.figures['p99Ms'] : undefined;
      if (p99 === undefined) return notMeasured(`Eventloom: ${subject?.status ?? 'absent'}${subject?.reason ? ` (${subject.reason})` : ''}`);
      return p99 < maxMs
        ? { verdict: 'met', detail: `p99 ${formatFigure(p99)} ms` }
        : { verdict: 'missed', detail: `p99 ${formatFigure(p99)} ms, over by ${formatFigure(p99 - maxMs)} ms` };
    },
  };
}

export const CRITERIA: readonly Criterion[] = [
  atLeast('sqlite', 'W1', 'anchor', 0.8),
  atLeast('sqlite', 'W2', 'anchor', 0.5),
  atLeast('sqlite', 'W3', 'anchor', 3, ' (group commit)'),
  checksPass('sqlite', 'W4', 'W4 stream contiguous, head = last event'),
  atLeast('sqlite', 'W5', 'anchor', 0.5),
  atLeast('sqlite', 'W6', 'anchor', 0.8),
  atLeast('sqlite', 'W1', 'peer', 6),
  atLeast('sqlite', 'W2', 'peer', 2),
  atLeast('sqlite', 'W5', 'peer', 2),
  atLeast('postgres', 'W1', 'anchor', 0.8),
  atLeast('postgres', 'W2', 'anchor', 0.8),
  atLeast('postgres', 'W3', 'anchor', 0.8),
  checksPass('postgres', 'W4', 'W4 stream contiguous, head = last event'),
  atLeast('postgres', 'W5', 'peer', 2),
  atLeast('postgres', 'W6', 'anchor', 0.6),
  checksPass('postgres', 'W6', 'W6 every event read exactly once after concurrent writes'),
  latencyUnder('postgres', 'W7', 50),
  atLeastOwn('postgres', 'W3I', 'W3', 0.7, ' (inline projection)'),
  latencyUnder('postgres', 'W7H', 50),
  latencyUnder('postgres', 'W8', 50),
  // Issue 12: the distance from the floor (the raw driver doing the least the workload needs).
  atLeast('sqlite', 'W2', 'floor', 0.6, ' (issue 12)'),
  atLeast('sqlite', 'W5', 'floor', 0.7, ' (issue 12)'),
  atLeast('sqlite', 'W6', 'floor', 0.9, ' (issue 12)'),
  atLeast('postgres', 'W5', 'floor', 0.6, ' (issue 12)'),
  atLeast('postgres', 'W6', 'floor', 0.6, ' (issue 12)'),
];

export function judge(run: BackendRun): Judgement[] {
  return CRITERIA.filter((c) => c.backend === run.backend).map((c) => ({ backend: c.backend, target: c.text, ...c.judge(run) }));
}

function find(run: BackendRun, workload: WorkloadId): WorkloadRun | undefined {
  return run.workloads.find((w) => w.workload === workload);
}

function notMeasured(detail: string): { verdict: Verdict; detail: string } {
  return { verdict: 'not measured', detail };
}
