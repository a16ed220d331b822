// Sends to a driver that never reads the JSON text (needsJson false, the memory transport
// sharing the sent objects) skip writing it; the checks must refuse exactly what they refuse otherwise.
import { InvalidEventError, MAX_EVENT_BYTES, MemoryTransport } from '@eventloom/core';
import { prepareMessages, type PreparedMessage } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';
import { unique } from './support.js';

const sync = (result: PreparedMessage[] | Promise<PreparedMessage[]>): PreparedMessage[] => {
  if (result instanceof Promise) throw new Error('expected a synchronous result');
  return result;
};

const refusal = (run: () => unknown): { name: string; field: string; reason: string } | 'accepted' => {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return { name: error.name, field: error.field, reason: error.reason };
  }
};

const BAD: Record<string, unknown> = {
  'U+0000 in a string': { text: 'a\u0000b' },
  'a lone surrogate in a string': { text: 'a\ud800b' },
  'U+0000 in a key': { ['k\u0000']: 1 },
  'a lone surrogate deep down': { a: [{ b: 'x\udc00' }] },
  'a BigInt': { n: 1n },
  'NaN': { n: Number.NaN },
  'a Date': { at: new Date(0) },
  'a function': { f: () => 1 },
  'a Map': { m: new Map() },
  'a cycle': (() => {
    const a: Record<string, unknown> = {};
    a.self = a;
    return a;
  })(),
  'over the size limit by its length': { text: 'x'.repeat(MAX_EVENT_BYTES) },
  // 6 Mi characters of 3 UTF-8 bytes: short by the walk's count, too large as UTF-8.
  'over the size limit only in UTF-8 bytes': { text: '€'.repeat(6 * 1024 * 1024) },
};

describe('prepareMessages with json: false', () => {
  for (const [name, data] of Object.entries(BAD)) {
    it(`refuses ${name} as the JSON-writing path does`, () => {
      const withJson = refusal(() => prepareMessages([{ type: 'Ok', data: {} }, { type: 'Bad', data }], { source: 's' }));
      const withoutJson = refusal(() => prepareMessages([{ type: 'Ok', data: {} }, { type: 'Bad', data }], { source: 's', json: false }));
      expect(withJson).not.toBe('accepted');
      expect(withoutJson).toEqual(withJson);
    });
  }

  it('refuses bad metadata the same way', () => {
    const message = { type: 'A', data: {}, metadata: { note: 'a\u0000' } };
    const withJson = refusal(() => prepareMessages(message, { source: 's' }));
    expect(withJson).not.toBe('accepted');
    expect(refusal(() => prepareMessages(message, { source: 's', json: false }))).toEqual(withJson);
  });

  it('prepares the same envelopes, without the JSON text unless the value differs from it', () => {
    const now = Date.UTC(2026, 11, 1);
    const messages = [
      { type: 'A', data: { n: 1, s: 'héllo 😀', list: [true, null] }, metadata: { tenant: 't' }, id: '01890000-0000-7000-8000-000000000001' },
      { type: 'B', data: { zero: -0, gone: undefined }, id: '01890000-0000-7000-8000-000000000002' },
    ];
    const written = sync(prepareMessages(messages, { source: 's', now }));
    const skipped = sync(prepareMessages(messages, { source: 's', now, json: false }));
    expect(skipped.map((m) => m.envelope)).toEqual(written.map((m) => m.envelope));
    expect(skipped[0]!.dataJson).toBeUndefined();
    expect(skipped[0]!.metadataJson).toBeUndefined();
    expect(skipped[0]!.envelope.data).toBe(messages[0]!.data);
    // -0 and an undefined property: the value read back from the JSON, as every store keeps it.
    expect(Object.is((skipped[1]!.envelope.data as { zero: number }).zero, 0)).toBe(true);
    expect(skipped[1]!.envelope.data).toStrictEqual({ zero: 0 });
    expect(skipped[1]!.dataJson).toBe('{"zero":0}');
  });

  it('still refuses a repeated id within one send', () => {
    const id = '01890000-0000-7000-8000-00000000000a';
    expect(refusal(() => prepareMessages([{ type: 'A', data: {}, id }, { type: 'A', data: {}, id: id.toUpperCase() }], { source: 's', json: false }))).toMatchObject({
      field: 'messages[1].id',
    });
  });
});

describe('MemoryTransport with isolation shared', () => {
  it('refuses a bad message in a batch and stores nothing; hands the sent objects over', async () => {
    const transport = new MemoryTransport({ isolation: 'shared' });
    const queue = unique('q');
    try {
      await expect(transport.send(queue, [{ type: 'A', data: { ok: 1 } }, { type: 'A', data: { bad: 'x\ud800' } }])).rejects.toMatchObject({
        code: 'INVALID_EVENT',
        field: 'messages[1].data.bad',
      });
      expect(transport.storage.depth({ queue })).toBe(0);
      const data = { ok: 2 };
      await transport.send(queue, { type: 'A', data });
      const seen: unknown[] = [];
      const consumer = transport.consume({ queue }, { A: (m) => void seen.push(m.data) }, { logger: false });
      await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(1);
      expect(seen[0]).toBe(data);
      await consumer.stop();
    } finally {
      await transport.close();
    }
  });
});
