/**
 * W8: cross-process read-your-writes. Process A (the worker) appends an order, waits with
 * `readModels.waitForPosition` for the position the append returned, and reads the order's
 * document; process B runs the projection with a ProjectionRunner. Latency from calling append
 * to holding the document, with appends spaced 1–10 ms apart (random), after one warm-up.
 */
import { now, percentile } from '../stats.js';
import { sleep } from './helpers.js';
import { RYW_CATEGORY } from '../ryw/projection.js';
import type { Workload } from './types.js';

export const w8ReadYourWrites: Workload = {
  id: 'W8',
  title: (sizes) => `cross-process read-your-writes: append in A, projection runner in B, A waits on the store and reads (${sizes.liveAppends} orders)`,
  backends: ['sqlite', 'postgres'],
  roles: ['subject'],
  primary: { key: 'p99Ms', unit: 'ms p99', better: 'lower' },
  secondary: [
    { key: 'p50Ms', label: 'p50 ms' },
    { key: 'read', label: 'read' },
  ],
  timeoutMs: () => 180_000,
  async run(target, { sizes, pass }) {
    if (!target.readYourWrites) throw new Error('this target has no read-your-writes harness');
    const ryw = await target.readYourWrites();
    const latencies: number[] = [];
    let missing = 0;
    const budgetMs = sizes.liveAppends * 200;
    let appended = 0;
    try {
      if (!(await ryw.appendAndRead(`${RYW_CATEGORY}-p${pass}-warm`, 0))) throw new Error('the warm-up order was not in the read model after waiting');
      appended++;
      const start = now();
      for (let i = 0; i < sizes.liveAppends && now() - start < budgetMs; i++) {
        const t0 = now();
        const found = await ryw.appendAndRead(`${RYW_CATEGORY}-p${pass}-${i}`, i + 1);
        latencies.push(now() - t0);
        appended++;
        if (!found) missing++;
        await sleep(1 + Math.floor(Math.random() * 10));
      }
    } finally {
      await ryw.stop();
    }
    return {
      figures: { p99Ms: percentile(latencies, 99), p50Ms: percentile(latencies, 50), read: latencies.length - missing },
      checks: [{ name: 'read after waiting', ok: missing === 0, detail: `${latencies.length - missing} of ${latencies.length} documents there once waitForPosition resolved` }],
      eventsWritten: appended,
      notes: [
        process.env['EVENTLOOM_BENCH_RUNNER_POLL_MS'] === undefined
          ? "process B's runner at its defaults (woken by the event store's wake-ups of appends, else polling every 100 ms)"
          : `process B's runner polls every ${process.env['EVENTLOOM_BENCH_RUNNER_POLL_MS']} ms (EVENTLOOM_BENCH_RUNNER_POLL_MS)`,
      ],
      ...(missing > 0 ? { failure: `${missing} documents missing after waitForPosition resolved` } : {}),
    };
  },
};
