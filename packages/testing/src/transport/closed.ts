/** A closed transport refuses everything with `TransportClosedError`; closing again is harmless. */
import { TransportClosedError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, type Ping, uniqueName } from './fixtures.js';

export function closedTests(ctx: SuiteContext): void {
  describe('closed', () => {
    it('send, publish, declare and consume on a closed transport: TransportClosedError; close twice is fine', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      await transport.declare([{ queue }]);
      await transport.close();
      await transport.close();
      const message = { type: 'Ping' as const, data: { n: 1 } };
      await expect(transport.send(queue, message)).rejects.toBeInstanceOf(TransportClosedError);
      await expect(transport.publish(uniqueName('t'), message)).rejects.toBeInstanceOf(TransportClosedError);
      await expect(transport.declare([{ queue }])).rejects.toBeInstanceOf(TransportClosedError);
      let caught: unknown;
      try {
        const consumer = transport.consume<Ping>({ queue }, { Ping: () => undefined }, consumerOptions());
        await consumer.ready;
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TransportClosedError);
    });
  });
}
