/**
 * W3: many writers at once, each appending single events to its own stream with the expected
 * version it got back last time — what a busy service does, and where group commit pays.
 */
import { orderCreated } from '../payload.js';
import { now, perSecond } from '../stats.js';
import type { Sizes } from '../sizes.js';
import type { BenchTarget, Expectation } from '../target.js';
import { errorText, formatCount } from './helpers.js';
import type { Workload, WorkloadOutput } from './types.js';

export const w3Concurrent: Workload = {
  id: 'W3',
  title: (sizes) => `${sizes.concurrentWriters} concurrent writers × ${formatCount(sizes.appendsPerWriter)} appends to their own streams`,
  backends: ['sqlite', 'postgres'],
  passes: 3,
  primary: { key: 'rate', unit: 'appends/s', better: 'higher' },
  timeoutMs: () => 180_000,
  run: (target, { sizes, pass }) => concurrentAppends(target, sizes, (w) => `order-w3-p${pass}-${w}`),
};

/** W3's writers, each on the stream `streamOf(writer)`. */
export async function concurrentAppends(target: BenchTarget, sizes: Sizes, streamOf: (writer: number) => string): Promise<WorkloadOutput> {
  const { concurrentWriters: writers, appendsPerWriter: perWriter } = sizes;
  let acknowledged = 0;
  const errors: string[] = [];
  const writer = async (w: number): Promise<void> => {
    let expectation: Expectation = { kind: 'no_stream' };
    for (let i = 0; i < perWriter; i++) {
      try {
        const outcome = await target.append(streamOf(w), [orderCreated(w * perWriter + i)], expectation);
        if (!outcome.ok) throw new Error(`conflict on its own stream ${streamOf(w)} at append ${i + 1}`);
        acknowledged++;
        expectation = { kind: 'version', version: outcome.nextVersion };
      } catch (error) {
        errors.push(`writer ${w}: ${errorText(error)}`);
        return;
      }
    }
  };
  const start = now();
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  const elapsed = now() - start;
  const failure =
    errors.length > 0
      ? `${errors.length} of ${writers} writers stopped on an error after ${formatCount(acknowledged)} acknowledged appends; first: ${errors[0]}`
      : undefined;
  return {
    figures: { rate: perSecond(acknowledged, elapsed), acknowledged },
    checks: [],
    eventsWritten: acknowledged,
    ...(failure ? { failure } : {}),
  };
}
