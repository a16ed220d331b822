/**
 * Model-based test: random sequences of sends (with keys, and handlers that succeed, fail once,
 * always fail or reject), crashed consumers and redrives against one queue, checked against a
 * few lines of model. In the end every sent message was handled successfully at least once or
 * sits in the dead letters with the right reason, nothing appears that was not sent, and per
 * key the first successful handlings of the messages never dead-lettered are in send order.
 * `EVENTLOOM_FUZZ_RUNS` sets the number of runs (default 8), `EVENTLOOM_FUZZ_SEED` replays one.
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetter, Transport } from '@eventloom/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SuiteContext, TransportTestContext } from './context.js';
import { consumerOptions, eventually, quickPolicy, sleep, type Ping, uniqueName } from './fixtures.js';

type Fate = 'ok' | 'fail-once' | 'fail-always' | 'reject';

type Step =
  | { readonly kind: 'send'; readonly key: number; readonly fates: readonly Fate[] }
  | { readonly kind: 'crash' }
  | { readonly kind: 'redrive' }
  | { readonly kind: 'settle' };

const KEYS = 3;
const VISIBILITY_MS = 600;
/**
 * Crashes per run, at most: each may cost a held message one delivery, and a message must still
 * get its planned attempts under `MAX_ATTEMPTS` (brokers stop delivering after it).
 */
const MAX_CRASHES = 2;
const MAX_ATTEMPTS = 4;
/** The whole property, shrinking included, at most this long (or 15 s a run, times the suite's time scale). */
const SHRINK_BUDGET_MS = 120_000;

const fate: fc.Arbitrary<Fate> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('ok' as const) },
  { weight: 2, arbitrary: fc.constant('fail-once' as const) },
  { weight: 1, arbitrary: fc.constant('fail-always' as const) },
  { weight: 1, arbitrary: fc.constant('reject' as const) },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    // Key KEYS means no partition key.
    arbitrary: fc.record({ kind: fc.constant('send' as const), key: fc.nat(KEYS), fates: fc.array(fate, { minLength: 1, maxLength: 4 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'redrive' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
);

interface Sent {
  readonly id: string;
  readonly key: string | null;
  readonly fate: Fate;
}

function runs(ctx: SuiteContext): number {
  if (ctx.options.modelRuns !== undefined) return ctx.options.modelRuns;
  const fromEnv = Number(process.env.EVENTLOOM_FUZZ_RUNS);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : 8;
}

async function run(ctx: SuiteContext, made: TransportTestContext, steps: readonly Step[]): Promise<void> {
  const { transport } = made;
  const queue = uniqueName('q');
  const options = consumerOptions({
    concurrency: 4,
    visibilityTimeoutMs: VISIBILITY_MS,
    failurePolicy: quickPolicy({ maxAttempts: MAX_ATTEMPTS, retryDelayMs: 10, maxRetryDelayMs: 20 }),
  });
  const sent: Sent[] = [];
  const fates = new Map<string, Fate>();
  const redriven = new Set<string>();
  const everDead = new Set<string>();
  /** Ids in the order of their first successful handling. */
  const firstOk: string[] = [];
  const okCount = new Map<string, number>();
  const strangers: string[] = [];
  let crashes = 0;
  const consumer = ctx.consume<Ping>(
    transport,
    { queue },
    {
      Ping: (m, context) => {
        const planned = fates.get(m.id);
        if (planned === undefined) {
          strangers.push(m.id);
          return;
        }
        if (!redriven.has(m.id)) {
          if (planned === 'reject') return context.deadLetter('model says no');
          if (planned === 'fail-always' || (planned === 'fail-once' && m.attempt === 1)) throw new Error(`model fails ${planned}`);
        }
        if (!okCount.has(m.id)) firstOk.push(m.id);
        okCount.set(m.id, (okCount.get(m.id) ?? 0) + 1);
      },
    },
    options,
  );
  await consumer.ready;

  const deadNow = async (): Promise<readonly DeadLetter[]> => transport.deadLetters.list({ consumer: queue });
  /** Every sent message is either handled successfully or dead-lettered, as the model expects. */
  const settle = () =>
    eventually(async () => {
      const dead = new Set((await deadNow()).map((d) => d.message?.id));
      for (const s of sent) {
        const expectDead = (s.fate === 'fail-always' || s.fate === 'reject') && !redriven.has(s.id);
        if (expectDead) expect(dead.has(s.id), `${s.id} (${s.fate}) dead-lettered`).toBe(true);
        else expect(okCount.has(s.id), `${s.id} (${s.fate}) handled`).toBe(true);
      }
    }, ctx.scaled(8_000) + VISIBILITY_MS);

  for (const s of steps) {
    switch (s.kind) {
      case 'send': {
        const key = s.key === KEYS ? null : `k${s.key}`;
        const ids = s.fates.map(() => randomUUID());
        s.fates.forEach((f, i) => fates.set(ids[i]!, f));
        await transport.send(
          queue,
          ids.map((id, i) => ({ id, type: 'Ping' as const, data: { n: sent.length + i }, ...(key !== null && { partitionKey: key }) })),
        );
        s.fates.forEach((f, i) => sent.push({ id: ids[i]!, key, fate: f }));
        break;
      }
      case 'crash': {
        if (!made.crash || crashes >= MAX_CRASHES) break;
        crashes++;
        const victim: Transport | undefined = await ctx.peer(made);
        if (!victim) break;
        let held = 0;
        const dying = ctx.consume<Ping>(
          victim,
          { queue },
          {
            Ping: (_m, context) => {
              held++;
              return new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
            },
          },
          options,
        );
        await dying.ready;
        // Bait, so the victim likely holds something when it dies (the main consumer competes for it).
        const bait = randomUUID();
        fates.set(bait, 'ok');
        await transport.send(queue, { id: bait, type: 'Ping', data: { n: -1 } });
        sent.push({ id: bait, key: null, fate: 'ok' });
        const until = Date.now() + ctx.scaled(200);
        while (held === 0 && Date.now() < until) await sleep(10);
        await made.crash(victim);
        break;
      }
      case 'redrive': {
        const letters = await deadNow();
        for (const letter of letters) {
          if (!letter.message) continue;
          redriven.add(letter.message.id);
          everDead.add(letter.message.id);
        }
        expect(await transport.deadLetters.redrive({ ids: letters.map((l) => l.id) })).toBe(letters.length);
        break;
      }
      case 'settle':
        await settle();
        break;
    }
    for (const letter of await deadNow()) if (letter.message) everDead.add(letter.message.id);
  }
  await settle();
  const finalDead = await deadNow();
  for (const letter of finalDead) if (letter.message) everDead.add(letter.message.id);

  const sentIds = new Set(sent.map((s) => s.id));
  expect(strangers, 'nothing that was not sent').toEqual([]);
  expect(finalDead.filter((d) => !d.message || !sentIds.has(d.message.id)), 'no dead letter of a message not sent').toEqual([]);
  const expectedDead = sent.filter((s) => (s.fate === 'fail-always' || s.fate === 'reject') && !redriven.has(s.id));
  expect(new Set(finalDead.map((d) => d.message!.id))).toEqual(new Set(expectedDead.map((s) => s.id)));
  for (const letter of finalDead) {
    expect(letter.reason).toBe(fates.get(letter.message!.id) === 'reject' ? 'rejected' : 'max-attempts');
  }
  for (const s of sent) {
    if (!expectedDead.includes(s)) expect(okCount.get(s.id) ?? 0, `${s.id} handled at least once`).toBeGreaterThanOrEqual(1);
  }
  // Per key: first successful handlings, among messages never dead-lettered, in send order.
  for (let k = 0; k < KEYS; k++) {
    const key = `k${k}`;
    const inSendOrder = sent.filter((s) => s.key === key && !everDead.has(s.id)).map((s) => s.id);
    const inHandledOrder = firstOk.filter((id) => inSendOrder.includes(id));
    expect(inHandledOrder, `order of ${key}`).toEqual(inSendOrder);
  }
  await consumer.stop({ drainMs: ctx.scaled(2_000) });
}

export function modelTests(ctx: SuiteContext): void {
  describe('model', () => {
    const numRuns = runs(ctx);
    it(`agrees with a simple model over ${numRuns} random sequences of sends, failures, crashes and redrives`, async () => {
      const made = await ctx.create();
      const seed = process.env.EVENTLOOM_FUZZ_SEED ? Number(process.env.EVENTLOOM_FUZZ_SEED) : undefined;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), (steps) => run(ctx, made, steps)),
        // A failing run waits out its settle time-out; shrinking is bounded so a failure is reported, not a hung test.
        { numRuns, interruptAfterTimeLimit: ctx.scaled(Math.max(SHRINK_BUDGET_MS, numRuns * 15_000)), markInterruptAsFailure: true, ...(seed !== undefined && { seed }) },
      );
    }, ctx.scaled(Math.max(SHRINK_BUDGET_MS, numRuns * 15_000)) + 60_000);
  });
}
