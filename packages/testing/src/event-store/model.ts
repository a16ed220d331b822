/**
 * Model-based property test: random sequences of appends and reads against the store and
 * against a few lines of obviously-correct model, which must agree at every step.
 */
import {
  collect,
  WrongExpectedVersionError,
  type EventStore,
  type ExpectedVersion,
} from '@eventloom/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { uniqueCategory } from './fixtures.js';

interface Model {
  /** Per stream, the event payloads in order. */
  readonly streams: Map<string, number[]>;
  /** The log, as [stream, payload]. */
  readonly log: [string, number][];
}

type Step =
  | { kind: 'append'; stream: number; count: number; expected: 'any' | 'no_stream' | 'stream_exists' | 'exact' | 'stale' }
  | { kind: 'readStream'; stream: number; backwards: boolean; from: number; max: number }
  | { kind: 'readAll'; from: number; max: number }
  | { kind: 'info'; stream: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      stream: fc.nat(3),
      count: fc.integer({ min: 1, max: 4 }),
      expected: fc.constantFrom('any' as const, 'no_stream' as const, 'stream_exists' as const, 'exact' as const, 'stale' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('readStream' as const),
      stream: fc.nat(3),
      backwards: fc.boolean(),
      from: fc.nat(12),
      max: fc.integer({ min: 1, max: 20 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('readAll' as const), from: fc.nat(30), max: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('info' as const), stream: fc.nat(3) }) },
);

async function run(store: EventStore, steps: Step[]): Promise<void> {
  const category = uniqueCategory('model');
  const streamIdOf = (n: number) => `${category}-${n}`;
  const model: Model = { streams: new Map(), log: [] };
  let payload = 0;
  for (const s of steps) {
    switch (s.kind) {
      case 'append': {
        const id = streamIdOf(s.stream);
        const current = model.streams.get(id) ?? [];
        const version = current.length;
        const expected: ExpectedVersion =
          s.expected === 'exact' ? BigInt(version) : s.expected === 'stale' ? BigInt(version + 1) : s.expected;
        const ok =
          s.expected === 'any' ||
          s.expected === 'exact' ||
          (s.expected === 'no_stream' && version === 0) ||
          (s.expected === 'stream_exists' && version > 0);
        const payloads = Array.from({ length: s.count }, () => payload++);
        const attempt = store.appendToStream(
          id,
          payloads.map((p) => ({ type: 'Step', data: { p } })),
          { expectedVersion: expected },
        );
        if (ok) {
          const result = await attempt;
          expect(result.nextExpectedVersion).toBe(BigInt(version + s.count));
          model.streams.set(id, [...current, ...payloads]);
          for (const p of payloads) model.log.push([id, p]);
        } else {
          await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
        }
        break;
      }
      case 'readStream': {
        const id = streamIdOf(s.stream);
        const all = (model.streams.get(id) ?? []).map((p, i) => ({ v: i + 1, p }));
        const from = s.from === 0 ? undefined : s.from;
        const expected = (s.backwards ? [...all].reverse() : all)
          .filter((e) => from === undefined || (s.backwards ? e.v <= from : e.v >= from))
          .slice(0, s.max);
        const actual = await collect(
          store.readStream<{ type: string; data: { p: number } }>(id, {
            direction: s.backwards ? 'backwards' : 'forwards',
            ...(from !== undefined && { fromVersion: BigInt(from) }),
            maxCount: s.max,
            batchSize: 3,
          }),
        );
        expect(actual.map((e) => [Number(e.streamVersion), e.data.p])).toEqual(expected.map((e) => [e.v, e.p]));
        break;
      }
      case 'readAll': {
        const readLog = () =>
          collect(store.readAll<{ type: string; data: { p: number } }>({ filter: { streamPrefixes: [`${category}-`] }, batchSize: 4 }));
        let actual = await readLog();
        // Stores whose log shows only transactions older than all in flight may lag a moment.
        for (let waited = 0; actual.length < model.log.length && waited < 10_000; waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          actual = await readLog();
        }
        // Other tests do not write under this category; the log holds exactly the model's entries, in order.
        expect(actual.map((e) => [e.streamId, e.data.p])).toEqual(model.log);
        const offset = Math.min(s.from, actual.length);
        if (offset < actual.length) {
          const from = actual[offset]!.position;
          const slice = await collect(
            store.readAll<{ type: string; data: { p: number } }>({
              fromPosition: from,
              maxCount: s.max,
              filter: { streamPrefixes: [`${category}-`] },
            }),
          );
          expect(slice.map((e) => e.data.p)).toEqual(model.log.slice(offset, offset + s.max).map(([, p]) => p));
        }
        break;
      }
      case 'info': {
        const id = streamIdOf(s.stream);
        const info = await store.streamInfo(id);
        expect(info.version).toBe(BigInt(model.streams.get(id)?.length ?? 0));
        expect(info.exists).toBe((model.streams.get(id)?.length ?? 0) > 0);
        break;
      }
    }
  }
}

export function modelTests(ctx: SuiteContext): void {
  describe('model', () => {
    const runs = Math.max(200, ctx.options.modelRuns ?? 200);
    it(`agrees with a simple model over ${runs} random sequences of appends and reads`, async () => {
      const store = await ctx.store();
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => run(store, steps)),
        { numRuns: runs },
      );
    }, 300_000);
  });
}
