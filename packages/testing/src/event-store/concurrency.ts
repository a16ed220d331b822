/** Many writers on one stream: exactly one winner per version, versions contiguous. */
import { WrongExpectedVersionError, type Event } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { readStreamAll, uniqueStream } from './fixtures.js';

type Written = Event<'Written', { writer: number; attempt: number }>;

const WRITERS = 16;

export function concurrencyTests(ctx: SuiteContext): void {
  describe('concurrent writers', () => {
    it(`${WRITERS} writers racing for the same version: exactly one wins each round`, async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const rounds = 10;
      for (let round = 0; round < rounds; round++) {
        const results = await Promise.allSettled(
          Array.from({ length: WRITERS }, (_, writer) =>
            store.appendToStream<Written>(streamId, [{ type: 'Written', data: { writer, attempt: round } }], {
              expectedVersion: BigInt(round),
            }),
          ),
        );
        const winners = results.filter((r) => r.status === 'fulfilled');
        const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(winners).toHaveLength(1);
        for (const loser of losers) {
          expect(loser.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect((loser.reason as WrongExpectedVersionError).actualVersion).toBe(BigInt(round + 1));
        }
      }
      const events = await readStreamAll<Written>(store, streamId);
      expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: rounds }, (_, i) => BigInt(i + 1)));
    });

    it(`${WRITERS} writers retrying on conflict: versions contiguous, every success recorded once`, async () => {
      const store = await ctx.store();
      const streamId = uniqueStream();
      const perWriter = 8;
      const successes = new Map<bigint, number>();
      let conflicts = 0;
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, writer) => {
          let expected = 0n;
          for (let done = 0; done < perWriter; ) {
            try {
              const result = await store.appendToStream<Written>(
                streamId,
                [{ type: 'Written', data: { writer, attempt: done } }],
                { expectedVersion: expected },
              );
              expect(successes.has(result.nextExpectedVersion)).toBe(false);
              successes.set(result.nextExpectedVersion, writer);
              expected = result.nextExpectedVersion;
              done++;
            } catch (error) {
              if (!(error instanceof WrongExpectedVersionError)) throw error;
              conflicts++;
              expected = error.actualVersion ?? 0n;
            }
          }
        }),
      );
      const total = WRITERS * perWriter;
      const events = await readStreamAll<Written>(store, streamId);
      expect(events).toHaveLength(total);
      expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
      for (const event of events) expect(successes.get(event.streamVersion)).toBe(event.data.writer);
      expect((await store.streamInfo(streamId)).version).toBe(BigInt(total));
      expect(conflicts).toBeGreaterThanOrEqual(0);
    });
  });
}
