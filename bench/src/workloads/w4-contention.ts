/**
 * W4: writers contending on one stream with expected versions. Each appends at the version it
 * last saw; on a conflict it learns the new head and tries again. Afterwards the stream must be
 * contiguous, hold exactly the acknowledged appends, and the store's recorded head must equal
 * its last event.
 */
import { orderCreated } from '../payload.js';
import { now, perSecond } from '../stats.js';
import type { ReadEvent } from '../target.js';
import { errorText, formatCount } from './helpers.js';
import type { Check, Workload } from './types.js';

export const w4Contention: Workload = {
  id: 'W4',
  title: (sizes) => `${sizes.contendingWriters} writers contending on one stream until ${formatCount(sizes.contendedSuccesses)} appends succeed`,
  backends: ['sqlite', 'postgres'],
  primary: { key: 'rate', unit: 'appends/s', better: 'higher' },
  secondary: [
    { key: 'successes', label: 'successes' },
    { key: 'conflicts', label: 'conflicts' },
  ],
  timeoutMs: () => 180_000,
  async run(target, { sizes }) {
    const stream = 'order-w4-contended';
    const goal = sizes.contendedSuccesses;
    const first = await target.append(stream, [orderCreated(0)], { kind: 'no_stream' });
    if (!first.ok) throw new Error(`creating ${stream} reported a conflict`);
    let successes = 0;
    let conflicts = 0;
    let errors = 0;
    let firstError: string | undefined;
    let attempts = 0;
    // A store that never lets anyone win must not loop forever.
    const maxAttempts = goal * 50;

    const start = now();
    const writer = async (w: number): Promise<void> => {
      let known = first.nextVersion;
      while (successes < goal && attempts < maxAttempts && now() - start < sizes.contendedBudgetMs) {
        attempts++;
        try {
          const outcome = await target.append(stream, [orderCreated(w * 1_000_000 + attempts)], { kind: 'version', version: known });
          if (outcome.ok) {
            successes++;
            known = outcome.nextVersion;
            continue;
          }
          conflicts++;
        } catch (error) {
          errors++;
          firstError ??= errorText(error);
        }
        try {
          known = await target.currentVersion(stream, known);
        } catch (error) {
          errors++;
          firstError ??= errorText(error);
        }
      }
    };
    await Promise.all(Array.from({ length: sizes.contendingWriters }, (_, w) => writer(w)));
    const elapsed = now() - start;

    const events: ReadEvent[] = [];
    await target.readStream(stream, (event) => events.push(event));
    const acknowledged = successes + 1;
    const gaps = events.filter((event, i) => event.streamVersion !== BigInt(i + 1)).length;
    const last = events.at(-1)?.streamVersion ?? 0n;
    const head = await target.recordedHead(stream);
    const checks: Check[] = [
      {
        name: 'contiguous',
        ok: gaps === 0,
        detail: gaps === 0 ? `versions 1..${last}` : `${gaps} of ${events.length} events out of place`,
      },
      {
        name: 'acknowledged = stored',
        ok: events.length === acknowledged,
        detail: `${formatCount(acknowledged)} acknowledged, ${formatCount(events.length)} stored`,
      },
      { name: 'head = last event', ok: head === last, detail: `recorded head ${head}, last event ${last}` },
    ];
    const problems = [
      ...checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
      ...(errors > 0 ? [`${errors} errors other than conflicts; first: ${firstError}`] : []),
      ...(successes < goal ? [`only ${successes} of ${goal} appends succeeded in ${attempts} attempts and ${Math.round(elapsed / 1000)} s`] : []),
    ];
    return {
      figures: { rate: perSecond(successes, elapsed), successes, conflicts, errors },
      checks,
      eventsWritten: acknowledged,
      ...(problems.length > 0 ? { failure: problems.join('; ') } : {}),
    };
  },
};
