/** Recorded time never goes backwards within a stream, whatever the clock does. */
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { readStreamAll, uniqueStream } from './fixtures.js';

export function timeTests(ctx: SuiteContext): void {
  describe('time', () => {
    it("never records a time earlier than the stream's last one, even when the clock goes backwards", async () => {
      let now = Date.parse('2026-03-01T12:00:00.000Z');
      const store = await ctx.store({ clock: () => new Date(now) });
      const streamId = uniqueStream();
      await store.appendToStream(streamId, [{ type: 'First', data: {} }]);
      now -= 60_000; // the clock is set back a minute
      await store.appendToStream(streamId, [{ type: 'Second', data: {} }]);
      now += 120_000;
      await store.appendToStream(streamId, [{ type: 'Third', data: {} }]);
      const times = (await readStreamAll(store, streamId)).map((e) => e.time);
      expect(times).toEqual(['2026-03-01T12:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T12:01:00.000Z']);
    });
  });
}
