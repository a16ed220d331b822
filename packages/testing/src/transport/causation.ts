/**
 * The conversation is carried with no user wiring: what a handler sends or publishes through its
 * context takes the handled message's correlation id, and the handled message's id as causation.
 */
import { randomUUID } from 'node:crypto';
import type { DeliveredMessage } from '@eventloom/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { consumerOptions, eventually, type Ping, type Pong, uniqueName } from './fixtures.js';

export function causationTests(ctx: SuiteContext): void {
  describe('causation', () => {
    it("a handler's send and publish inherit the correlation id and take the handled id as causation, down a chain", async () => {
      const { transport } = await ctx.create();
      const commands = uniqueName('q');
      const replies = uniqueName('q');
      const topic = uniqueName('t');
      const group = uniqueName('g');
      const handled: DeliveredMessage[] = [];
      const fromReplies: DeliveredMessage[] = [];
      const fromTopic: DeliveredMessage[] = [];
      const kinds: string[] = [];
      const consumers = [
        ctx.consume<Ping>(
          transport,
          { queue: commands },
          {
            Ping: async (m, context) => {
              handled.push(m);
              kinds.push(context.transport.kind);
              await context.send(replies, { type: 'Pong', data: { n: m.data.n } });
              await context.publish(topic, [{ type: 'Pong', data: { n: m.data.n + 100 } }]);
            },
          },
          consumerOptions(),
        ),
        ctx.consume<Pong>(
          transport,
          { queue: replies },
          {
            Pong: async (m, context) => {
              fromReplies.push(m);
              // One step further down the chain.
              if (m.data.n < 10) await context.send(replies, { type: 'Pong', data: { n: m.data.n + 10 } });
            },
          },
          consumerOptions(),
        ),
        ctx.consume<Pong>(transport, { topic, group }, { Pong: (m) => void fromTopic.push(m) }, consumerOptions()),
      ];
      await Promise.all(consumers.map((c) => c.ready));
      const correlationId = randomUUID();
      const [command] = await transport.send(commands, { type: 'Ping', data: { n: 1 }, correlationId });
      await eventually(() => {
        expect(fromReplies).toHaveLength(2);
        expect(fromTopic).toHaveLength(1);
      }, ctx.scaled(10_000));
      const reply = fromReplies.find((m) => (m.data as Pong['data']).n === 1)!;
      const second = fromReplies.find((m) => (m.data as Pong['data']).n === 11)!;
      expect(handled[0]!.id).toBe(command!.id);
      expect(kinds, "the context's transport is this kind of transport").toEqual([transport.kind]);
      expect(reply).toMatchObject({ correlationId, causationId: command!.id });
      expect(fromTopic[0]).toMatchObject({ correlationId, causationId: command!.id, data: { n: 101 } });
      expect(second).toMatchObject({ correlationId, causationId: reply.id });
      expect(new Set([command!.id, reply.id, second.id, fromTopic[0]!.id]).size).toBe(4);
    });

    it('a message sent outside a handler without a correlation id starts its own conversation; explicit ids in a handler are kept', async () => {
      const { transport } = await ctx.create();
      const queue = uniqueName('q');
      const out = uniqueName('q');
      const got: DeliveredMessage[] = [];
      const explicitCorrelation = randomUUID();
      const explicitCausation = randomUUID();
      const consumers = [
        ctx.consume<Ping>(
          transport,
          { queue },
          {
            Ping: (_m, context) =>
              context.send(out, { type: 'Pong', data: { n: 2 }, correlationId: explicitCorrelation, causationId: explicitCausation }).then(() => undefined),
          },
          consumerOptions(),
        ),
        ctx.consume<Pong>(transport, { queue: out }, { Pong: (m) => void got.push(m) }, consumerOptions()),
      ];
      await Promise.all(consumers.map((c) => c.ready));
      const [first] = await transport.send(queue, { type: 'Ping', data: { n: 1 } });
      await eventually(() => expect(got).toHaveLength(1), ctx.scaled(10_000));
      expect(got[0]).toMatchObject({ correlationId: explicitCorrelation, causationId: explicitCausation });
      expect(first!.id).not.toBe(explicitCorrelation);
    });
  });
}
