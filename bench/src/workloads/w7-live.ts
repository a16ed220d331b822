/**
 * W7: append-to-delivery latency for a live subscriber: from the moment an append is called to
 * the moment the subscriber's handler sees the event. Appends are spaced by a few random
 * milliseconds, so a poller's phase cannot line up with them. Bounded in time: a slow poller
 * is measured on the events delivered within the budget.
 */
import { orderCreated } from '../payload.js';
import { now, percentile } from '../stats.js';
import { sleep } from './helpers.js';
import type { Sizes } from '../sizes.js';
import type { BenchTarget } from '../target.js';
import type { Workload, WorkloadOutput } from './types.js';

const DELIVERY_TIMEOUT_MS = 5_000;
const WARM_UP_TIMEOUT_MS = 15_000;

export const w7Live: Workload = {
  id: 'W7',
  title: (sizes) => `append-to-delivery latency for a live subscriber (${sizes.liveAppends} appends)`,
  backends: ['postgres'],
  primary: { key: 'p99Ms', unit: 'ms p99', better: 'lower' },
  secondary: [
    { key: 'p50Ms', label: 'p50 ms' },
    { key: 'delivered', label: 'delivered' },
  ],
  timeoutMs: () => 180_000,
  run: (target, { sizes }) => liveLatency(target, sizes, 'order-w7'),
};

/** W7's measurement on streams `<prefix>-warm`, `<prefix>-0`…, which must be new. */
export async function liveLatency(target: BenchTarget, sizes: Sizes, prefix: string): Promise<WorkloadOutput> {
  if (!target.subscribeLive) throw new Error('this target has no live subscription');
  const budgetMs = sizes.liveAppends * 200;
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  let wake: (() => void) | undefined;
  const subscription = await target.subscribeLive((event) => {
    const t0 = sent.get(event.streamId);
    if (t0 === undefined) return;
    latencies.push(now() - t0);
    sent.delete(event.streamId);
    wake?.();
  });
  let missed = 0;
  let appended = 0;
  let start = now();
  try {
    // One delivery before timing starts: what is measured is a subscriber that is live, not one starting up.
    const warmed = new Promise<void>((resolve) => {
      wake = resolve;
    });
    sent.set(`${prefix}-warm`, now());
    await target.append(`${prefix}-warm`, [orderCreated(0)], { kind: 'no_stream' });
    await Promise.race([warmed, sleep(WARM_UP_TIMEOUT_MS)]);
    if (sent.delete(`${prefix}-warm`)) {
      const diagnosis = await target.diagnose?.();
      throw new Error(`the subscriber delivered nothing within ${WARM_UP_TIMEOUT_MS / 1000} s${diagnosis ? `; ${diagnosis}` : ''}`);
    }
    latencies.length = 0;
    start = now();
    for (let i = 0; i < sizes.liveAppends && now() - start < budgetMs; i++) {
      const stream = `${prefix}-${i}`;
      const delivered = new Promise<void>((resolve) => {
        wake = resolve;
      });
      sent.set(stream, now());
      const outcome = await target.append(stream, [orderCreated(i)], { kind: 'no_stream' });
      if (!outcome.ok) throw new Error(`append to the new stream ${stream} reported a conflict`);
      appended++;
      if (sent.has(stream)) {
        await Promise.race([delivered, sleep(DELIVERY_TIMEOUT_MS)]);
        if (sent.delete(stream)) missed++;
      }
      await sleep(1 + Math.floor(Math.random() * 10));
    }
  } finally {
    await subscription.stop();
  }
  const notes = appended < sizes.liveAppends ? [`stopped after ${appended} appends: time budget of ${budgetMs / 1000} s`] : [];
  return {
    figures: { p99Ms: percentile(latencies, 99), p50Ms: percentile(latencies, 50), delivered: latencies.length, missed },
    checks: [{ name: 'all delivered', ok: missed === 0, detail: `${latencies.length} of ${appended} within ${DELIVERY_TIMEOUT_MS / 1000} s` }],
    eventsWritten: appended + 1,
    notes,
    ...(missed > 0 ? { failure: `${missed} of ${appended} events not delivered within ${DELIVERY_TIMEOUT_MS / 1000} s` } : {}),
  };
}
