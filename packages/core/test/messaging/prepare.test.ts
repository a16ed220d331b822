// What a send checks and fills in before any transport sees it; nothing is sent when anything is bad.
import { InvalidArgumentError, InvalidEventError, MAX_DELAY_MS, MAX_EVENT_BYTES, MemoryTransport, NotSupportedError, SchemaRegistry } from '@eventloom/core';
import { assertDestinationName, createTransport, MemoryTransportDriver, prepareMessages, type PreparedMessage } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { unique } from './support.js';

const sync = (result: PreparedMessage[] | Promise<PreparedMessage[]>): PreparedMessage[] => {
  if (result instanceof Promise) throw new Error('expected a synchronous result');
  return result;
};

describe('prepareMessages', () => {
  it('fills in the envelope: UUIDv7 id, own correlation, source, time, routing, JSON text for drivers', () => {
    const now = Date.UTC(2026, 11, 1, 12);
    const [m] = sync(prepareMessages({ type: 'OrderPlaced', data: { n: 1 }, subject: 'order-1', partitionKey: 'order-1' }, { source: 'shop', now }));
    expect(m!.envelope).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
      type: 'OrderPlaced',
      schemaVersion: 1,
      time: '2026-12-01T12:00:00.000Z',
      source: 'shop',
      correlationId: m!.envelope.id,
      causationId: null,
      subject: 'order-1',
      partitionKey: 'order-1',
      data: { n: 1 },
      metadata: {},
    });
    expect(m!.deliverAt).toBeNull();
    expect(m!.dataJson).toBe('{"n":1}');
    expect(m!.metadataJson).toBe('{}');
  });

  it('lowercases a given id, keeps given correlation and causation, and inherits them from a handled message otherwise', () => {
    const causedBy = { id: '11111111-1111-7111-8111-111111111111', correlationId: 'conv' };
    const [given, inherited] = sync(
      prepareMessages(
        [
          { type: 'A', data: {}, id: 'ABCDEF00-0000-4000-8000-000000000000', correlationId: 'mine', causationId: 'me' },
          { type: 'B', data: {} },
        ],
        { source: 's', causedBy },
      ),
    );
    expect(given!.envelope).toMatchObject({ id: 'abcdef00-0000-4000-8000-000000000000', correlationId: 'mine', causationId: 'me' });
    expect(inherited!.envelope).toMatchObject({ correlationId: 'conv', causationId: causedBy.id });
  });

  it('turns delayMs and deliverAt into a delivery time; the message overrides the send options; a past time is now', () => {
    const now = Date.UTC(2026, 0, 1);
    const list = sync(
      prepareMessages(
        [
          { type: 'A', data: {} },
          { type: 'B', data: {}, delayMs: 10.2 },
          { type: 'C', data: {}, deliverAt: '2026-01-01T00:00:05+00:00' },
          { type: 'D', data: {}, deliverAt: new Date(now - 1) },
        ],
        { source: 's', now, defaults: { delayMs: 1_000 } },
      ),
    );
    expect(list.map((m) => m.deliverAt?.getTime() ?? null)).toEqual([now + 1_000, now + 11, now + 5_000, null]);
  });

  it('validates data against the registry when given, and names the field', async () => {
    const schemas = new SchemaRegistry().register('A', 1, z.object({ n: z.number() }));
    await expect(prepareMessages([{ type: 'A', data: { n: 1 } }, { type: 'A', data: { n: 'x' } }], { source: 's', schemas })).rejects.toThrow(
      /Invalid event: messages\[1\]\.data\.n does not match the schema of A v1/,
    );
    const [ok] = await prepareMessages({ type: 'A', data: { n: 2 } }, { source: 's', schemas });
    expect(ok!.envelope.data).toEqual({ n: 2 });
  });

  const bad: [string, unknown, unknown, RegExp][] = [
    ['an empty array', [], InvalidArgumentError, /Invalid messages: must contain at least one message/],
    ['not an object', 42, InvalidArgumentError, /Invalid messages: must be a message/],
    ['a message without a type', [{ data: {} }], InvalidEventError, /messages\[0\]\.type is missing/],
    ['a message without data', [{ type: 'A' }], InvalidEventError, /messages\[0\]\.data is missing/],
    ['data that is not JSON', [{ type: 'A', data: {} }, { type: 'A', data: { at: new Date() } }], InvalidEventError, /messages\[1\]\.data\.at is .*not a plain JSON object/],
    ['a BigInt', [{ type: 'A', data: { n: 1n } }], InvalidEventError, /messages\[0\]\.data\.n is a BigInt/],
    ['an id that is not a UUID', [{ type: 'A', data: {}, id: 'x' }], InvalidEventError, /messages\[0\]\.id must be a UUID/],
    ['a repeated id', [{ type: 'A', data: {}, id: '11111111-1111-7111-8111-111111111111' }, { type: 'A', data: {}, id: '11111111-1111-7111-8111-111111111111' }], InvalidEventError, /messages\[1\]\.id repeats/],
    ['both delayMs and deliverAt', [{ type: 'A', data: {}, delayMs: 1, deliverAt: new Date() }], InvalidEventError, /messages\[0\]\.deliverAt and delayMs are both given/],
    ['a negative delay', [{ type: 'A', data: {}, delayMs: -1 }], InvalidEventError, /messages\[0\]\.delayMs must be a number of milliseconds/],
    ['a delay too far', [{ type: 'A', data: {}, delayMs: MAX_DELAY_MS + 1 }], InvalidEventError, /messages\[0\]\.delayMs/],
    ['a deliverAt without a zone', [{ type: 'A', data: {}, deliverAt: '2030-01-01T00:00:00' }], InvalidEventError, /messages\[0\]\.deliverAt must be a valid Date or an ISO 8601 time with a zone/],
    ['an invalid Date', [{ type: 'A', data: {}, deliverAt: new Date(NaN) }], InvalidEventError, /messages\[0\]\.deliverAt/],
    ['an empty partition key', [{ type: 'A', data: {}, partitionKey: '' }], InvalidEventError, /messages\[0\]\.partitionKey must be a non-empty string/],
    ['a partition key with U+0000', [{ type: 'A', data: {}, partitionKey: 'a\u0000' }], InvalidEventError, /messages\[0\]\.partitionKey contains the character U\+0000/],
    ['a subject that is not a string', [{ type: 'A', data: {}, subject: 7 }], InvalidEventError, /messages\[0\]\.subject must be a non-empty string/],
    ['a message too large', [{ type: 'A', data: { s: 'x'.repeat(MAX_EVENT_BYTES) } }], InvalidEventError, /messages\[0\] is .*16 MiB/],
  ];
  for (const [what, messages, type, reason] of bad) {
    it(`refuses ${what}`, () => {
      let caught: unknown;
      try {
        prepareMessages(messages as never, { source: 's' });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(type);
      expect((caught as Error).message).toMatch(reason);
    });
  }

  it('refuses bad send options', () => {
    expect(() => prepareMessages({ type: 'A', data: {} }, { source: 's', defaults: { delayMs: 1, deliverAt: new Date() } })).toThrow(InvalidArgumentError);
    expect(() => prepareMessages({ type: 'A', data: {} }, { source: 's', defaults: { delayMs: 'soon' as never } })).toThrow(/Invalid options.delayMs/);
  });
});

describe('destination names', () => {
  it('accepts names safe on every transport and refuses the rest', () => {
    for (const ok of ['orders', 'billing.charge-card', 'a_b', 'A1', 'x'.repeat(200)]) expect(() => assertDestinationName(ok, 'queue')).not.toThrow();
    for (const bad of ['', ' orders', 'a b', 'a/b', 'a*', 'a>', '.a', '-a', 'a.', 'a..b', 'x'.repeat(201), 'ü', 7, null]) {
      expect(() => assertDestinationName(bad, 'queue')).toThrow(InvalidArgumentError);
    }
  });
});

describe('Transport input checks', () => {
  it('send and publish refuse a bad destination and bad messages, and store nothing', async () => {
    const transport = new MemoryTransport();
    const queue = unique('q');
    await expect(transport.send('bad name', { type: 'A', data: {} })).rejects.toThrow(/Invalid queue/);
    await expect(transport.publish('t*', { type: 'A', data: {} })).rejects.toThrow(/Invalid topic/);
    await expect(transport.send(queue, [{ type: 'A', data: {} }, { type: 'A', data: { f: () => 1 } }])).rejects.toBeInstanceOf(InvalidEventError);
    expect(transport.storage.depth({ queue })).toBe(0);
    await expect(transport.declare([{ queue: 'ok' }, { topic: 'x', group: '' }])).rejects.toThrow(/sources\[1\]\.group/);
    await expect(transport.deadLetters.list({ reason: 'bored' as never })).rejects.toThrow(/filter.reason: must be one of/);
    await expect(transport.deadLetters.list({ nope: 1 } as never)).rejects.toThrow(/filter.nope/);
    await expect(transport.deadLetters.purge({ before: 'yesterday' })).rejects.toThrow(/filter.before/);
    await expect(transport.cancelScheduled({ queue }, '')).rejects.toThrow(/messageId/);
    await transport.close();
  });

  it('cancelScheduled is refused with NOT_SUPPORTED where the driver cannot', async () => {
    const inner = new MemoryTransportDriver();
    const transport = createTransport({
      kind: 'limited',
      capabilities: { cancelScheduled: false },
      deadLetters: inner.deadLetters,
      enqueue: (d, m) => inner.enqueue(d, m),
      declare: (s) => inner.declare(s),
      openReceiver: (s, o) => inner.openReceiver(s, o),
      cancelScheduled: (d, id) => inner.cancelScheduled(d, id),
      close: () => inner.close(),
    });
    await expect(transport.cancelScheduled({ queue: 'q' }, '11111111-1111-7111-8111-111111111111')).rejects.toBeInstanceOf(NotSupportedError);
    await transport.close();
  });

  it('refuses a bad source option', () => {
    expect(() => new MemoryTransport({ source: '' })).toThrow(/options.source/);
  });
});
