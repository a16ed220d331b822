/**
 * W7H: W7's append-to-delivery latency while an unrelated transaction that wrote something is
 * held open, idle, in another database of the same server — a reader bounded by the oldest
 * transaction in flight on the server (Eventloom's before its migration 3, Emmett's) stalls.
 */
import type { Workload } from './types.js';
import { liveLatency, w7Live } from './w7-live.js';

export const w7Held: Workload = {
  ...w7Live,
  id: 'W7H',
  title: (sizes) => `W7 while an unrelated transaction is held open in another database (${sizes.liveAppends} appends)`,
  async run(target, context) {
    if (!target.holdUnrelatedTransaction) throw new Error('this target cannot hold a transaction elsewhere');
    const release = await target.holdUnrelatedTransaction();
    try {
      const output = await liveLatency(target, context.sizes, 'order-w7h');
      return { ...output, notes: [...(output.notes ?? []), 'held: an idle transaction with an xid in database postgres'] };
    } finally {
      await release();
    }
  },
};
