/** The workloads, in the order they run: W6 comes after every write, W7 and W7H late so their subscribers see no other traffic; W8 after them (its own processes). */
import type { Backend } from '../target.js';
import type { Workload, WorkloadId } from './types.js';
import { w1Sequential } from './w1-sequential.js';
import { w2Batched } from './w2-batched.js';
import { w3Concurrent } from './w3-concurrent.js';
import { w3Inline, w3InlineDocuments } from './w3i-inline.js';
import { w4Contention } from './w4-contention.js';
import { w5Fold } from './w5-fold.js';
import { w6ReadAll } from './w6-read-all.js';
import { w7Live } from './w7-live.js';
import { w7Held } from './w7h-held.js';
import { w8ReadYourWrites } from './w8-read-your-writes.js';

export const WORKLOADS: readonly Workload[] = [w1Sequential, w2Batched, w3Concurrent, w3Inline, w3InlineDocuments, w4Contention, w5Fold, w6ReadAll, w7Live, w7Held, w8ReadYourWrites];

export function workloadsOf(backend: Backend): Workload[] {
  return WORKLOADS.filter((w) => w.backends.includes(backend));
}

export function workload(id: WorkloadId): Workload {
  const found = WORKLOADS.find((w) => w.id === id);
  if (!found) throw new Error(`no workload ${id}`);
  return found;
}
