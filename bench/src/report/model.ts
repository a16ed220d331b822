/** What a run produced: the shape of `bench/results/latest.json`. */
import type { Sizes } from '../sizes.js';
import type { Backend, TargetDescriptor } from '../target.js';
import type { WorkloadId, WorkloadOutput } from '../workloads/types.js';
import type { MachineInfo } from './machine.js';

export type CellStatus = 'ok' | 'failed' | 'timeout' | 'unavailable';

/** One target's result on one workload. */
export interface Cell {
  readonly target: string;
  readonly status: CellStatus;
  readonly reason?: string;
  readonly output?: WorkloadOutput;
  readonly elapsedMs: number;
}

export interface WorkloadRun {
  readonly workload: WorkloadId;
  readonly title: string;
  readonly primary: { readonly key: string; readonly unit: string; readonly better: 'higher' | 'lower' };
  readonly secondary: readonly { readonly key: string; readonly label: string }[];
  readonly cells: readonly Cell[];
}

export interface BackendRun {
  readonly backend: Backend;
  /** e.g. `SQLite 3.53.2, WAL, synchronous=FULL`. */
  readonly setting: string;
  readonly quick: boolean;
  readonly sizes: Sizes;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly targets: readonly TargetDescriptor[];
  readonly workloads: readonly WorkloadRun[];
  /** Set when the backend could not run at all (e.g. PostgreSQL unreachable). */
  readonly skipped?: string;
}

export interface RunReport {
  readonly machine: MachineInfo;
  readonly backends: Partial<Record<Backend, BackendRun>>;
}

/** What `bench/src/projections-rebuild.ts` writes to `bench/results/rebuild.json`: each backend's last full run. */
export interface RebuildResults {
  readonly backends: Readonly<Record<string, RebuildRun>>;
}

export interface RebuildRun {
  readonly finishedAt: string;
  /** The machine's load average (1, 5, 15 min) when it finished. */
  readonly load: string;
  /** The Markdown table of the run. */
  readonly table: string;
}
