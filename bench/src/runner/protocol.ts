/** Messages between the runner and a target's worker process. */
import type { Sizes } from '../sizes.js';
import type { TargetDescriptor, TargetResource } from '../target.js';
import type { WorkloadId, WorkloadOutput } from '../workloads/types.js';

export type ToWorker =
  | { readonly kind: 'open'; readonly descriptor: TargetDescriptor; readonly resource: TargetResource }
  | { readonly kind: 'run'; readonly workload: WorkloadId; readonly sizes: Sizes; readonly pass: number; readonly eventsBefore: number | null }
  | { readonly kind: 'close' };

export type FromWorker =
  | { readonly kind: 'opened' }
  | { readonly kind: 'progress'; readonly text: string }
  | { readonly kind: 'done'; readonly output: WorkloadOutput }
  | { readonly kind: 'closed' }
  | { readonly kind: 'error'; readonly message: string };
