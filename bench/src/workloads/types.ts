/** What a workload is and what it reports. */
import type { Sizes } from '../sizes.js';
import type { Backend, BenchTarget, TargetRole } from '../target.js';

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W3I' | 'W3ID' | 'W4' | 'W5' | 'W6' | 'W7' | 'W7H' | 'W8';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface WorkloadOutput {
  /** Named figures, e.g. `rate`, `p50Ms`, `successes`. */
  readonly figures: Readonly<Record<string, number>>;
  readonly checks: readonly Check[];
  /** Set when the target got through the workload but misbehaved (errors, a failed check). */
  readonly failure?: string;
  readonly notes?: readonly string[];
  /** Events this workload got acknowledged, so later workloads know how large the log is. */
  readonly eventsWritten: number;
  /** True when an append errored and was retried: it may have landed twice, so the count above is not exact. */
  readonly countUncertain?: boolean;
}

export interface WorkloadContext {
  readonly backend: Backend;
  readonly sizes: Sizes;
  /** Which run of the workload this is (0, 1…); stream names include it so runs do not collide. */
  readonly pass: number;
  /** Events acknowledged by earlier workloads, or `null` when that is unknown (one of them was cut short). */
  readonly eventsBefore: number | null;
  progress(text: string): void;
}

export interface Workload {
  readonly id: WorkloadId;
  readonly title: (sizes: Sizes) => string;
  readonly backends: readonly Backend[];
  /** Only targets of these roles run it (a feature only Eventloom has, say); default: every target. */
  readonly roles?: readonly TargetRole[];
  /** The headline figure and its unit; `better` says which way is good. */
  readonly primary: { readonly key: string; readonly unit: string; readonly better: 'higher' | 'lower' };
  /** Further figures shown beside it, e.g. latency percentiles. */
  readonly secondary?: readonly { readonly key: string; readonly label: string }[];
  /**
   * Runs per target; every other pass goes through the targets in reverse order and the best run
   * counts: load from elsewhere on a shared machine only ever slows a run down, so the best is
   * the closest to what the target can do, and no burst of load decides a ratio.
   */
  readonly passes?: number;
  /** Upper bound on one run; a target still busy then is recorded as timed out. */
  readonly timeoutMs: (sizes: Sizes) => number;
  run(target: BenchTarget, context: WorkloadContext): Promise<WorkloadOutput>;
}
