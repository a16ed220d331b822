/** W1: single-event appends, one after another, each to a new stream — the latency of one durable append. */
import { orderCreated } from '../payload.js';
import { now, percentile, perSecond } from '../stats.js';
import { appendRetrying, formatCount, retryNote, warmUp, type RetryLog } from './helpers.js';
import type { Workload } from './types.js';

export const w1Sequential: Workload = {
  id: 'W1',
  title: (sizes) => `${formatCount(sizes.sequentialAppends)} sequential single-event appends to new streams`,
  backends: ['sqlite', 'postgres'],
  passes: 3,
  primary: { key: 'rate', unit: 'appends/s', better: 'higher' },
  secondary: [
    { key: 'p50Ms', label: 'p50 ms' },
    { key: 'p99Ms', label: 'p99 ms' },
  ],
  timeoutMs: () => 180_000,
  async run(target, { sizes, pass }) {
    const retries: RetryLog = { count: 0 };
    const warm = await warmUp(target, `w1p${pass}`, retries);
    const n = sizes.sequentialAppends;
    const latencies = new Array<number>(n);
    const start = now();
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const outcome = await appendRetrying(target, `order-w1-p${pass}-${i}`, [orderCreated(i)], { kind: 'no_stream' }, retries);
      latencies[i] = now() - t0;
      if (!outcome.ok) throw new Error(`append to the new stream order-w1-p${pass}-${i} reported a conflict`);
    }
    const elapsed = now() - start;
    return {
      figures: { rate: perSecond(n, elapsed), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) },
      checks: [],
      eventsWritten: warm + n,
      notes: retryNote(retries),
      countUncertain: retries.count > 0,
    };
  },
};
