/** W2: appends of many events at once, each to a new stream — throughput when the caller batches. */
import { orderBatch } from '../payload.js';
import { now, perSecond } from '../stats.js';
import { appendRetrying, formatCount, retryNote, warmUp, type RetryLog } from './helpers.js';
import type { Workload } from './types.js';

export const w2Batched: Workload = {
  id: 'W2',
  title: (sizes) => `${formatCount(sizes.batchAppends)} appends of ${sizes.batchEvents} events`,
  backends: ['sqlite', 'postgres'],
  passes: 3,
  primary: { key: 'rate', unit: 'events/s', better: 'higher' },
  timeoutMs: () => 180_000,
  async run(target, { sizes, pass }) {
    const retries: RetryLog = { count: 0 };
    const warm = await warmUp(target, `w2p${pass}`, retries, 5);
    const { batchAppends: n, batchEvents: size } = sizes;
    const batches = Array.from({ length: n }, (_, i) => orderBatch(i * size, size));
    const start = now();
    for (let i = 0; i < n; i++) {
      const outcome = await appendRetrying(target, `order-w2-p${pass}-${i}`, batches[i]!, { kind: 'no_stream' }, retries);
      if (!outcome.ok) throw new Error(`append to the new stream order-w2-p${pass}-${i} reported a conflict`);
    }
    const elapsed = now() - start;
    return {
      figures: { rate: perSecond(n * size, elapsed) },
      checks: [],
      eventsWritten: warm + n * size,
      notes: retryNote(retries),
      countUncertain: retries.count > 0,
    };
  },
};
