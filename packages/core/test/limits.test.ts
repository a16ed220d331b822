/** The shared input limits at their exact edges, and error messages that build for any value. */
import { InvalidArgumentError, InvalidEventError, MAX_EVENT_BYTES, MAX_JSON_DEPTH, MAX_POSITION, type EventToAppend } from '@eventloom/core';
import { describeValue, normalizeExpectedVersion, normalizePosition, prepareAppendSync, unstorableText } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

function prepare(event: Partial<EventToAppend> & { data: unknown }) {
  return prepareAppendSync('order-1', [{ type: 'X', ...event } as EventToAppend], undefined, undefined);
}

function refusal(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('limits', () => {
  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses ${MAX_JSON_DEPTH + 1}, naming the value and where`, () => {
    expect(() => prepare({ data: nested(MAX_JSON_DEPTH) })).not.toThrow();
    const error = refusal(() => prepare({ data: nested(MAX_JSON_DEPTH + 1) }));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).field).toBe('events[0].data');
    expect((error as Error).message).toMatch(/more than 64 levels deep \(at events\[0\]\.data\.a\[0\]\.a/);
  });

  it('accepts an event of exactly MAX_EVENT_BYTES of JSON and refuses one byte more', () => {
    const overhead = JSON.stringify({ blob: '' }).length + '{}'.length; // data plus empty metadata
    const exact = { blob: 'x'.repeat(MAX_EVENT_BYTES - overhead) };
    expect(() => prepare({ data: exact })).not.toThrow();
    const error = refusal(() => prepare({ data: { blob: `${exact.blob}x` } }));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).field).toBe('events[0]');
    expect((error as Error).message).toMatch(/16 MiB/);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const overhead = JSON.stringify({ blob: '' }).length + '{}'.length;
    const chars = Math.floor((MAX_EVENT_BYTES - overhead) / 2);
    expect(() => prepare({ data: { blob: 'é'.repeat(chars) } })).not.toThrow();
    expect(refusal(() => prepare({ data: { blob: 'é'.repeat(chars + 1) } }))).toBeInstanceOf(InvalidEventError);
  });

  it('records -0 as 0, as every JSON store reads it back', () => {
    const [event] = prepare({ data: { z: -0, list: [-0] }, metadata: { m: -0 } }).events;
    expect(Object.is((event!.data as { z: number }).z, 0)).toBe(true);
    expect(Object.is((event!.data as { list: number[] }).list[0], 0)).toBe(true);
    expect(Object.is(event!.metadata.m, 0)).toBe(true);
  });

  it('refuses U+0000 and half surrogate pairs, and keeps whole pairs', () => {
    expect(unstorableText('🎉 ok \uD83D\uDE00')).toBeUndefined();
    expect(unstorableText('a\u0000b')).toMatch(/U\+0000/);
    for (const text of ['\uD800', 'x\uDBFF', '\uDC00y', '\uDE00\uD83D']) expect(unstorableText(text)).toMatch(/surrogate/);
    // A string that only looks like an escape is plain text.
    expect(() => prepare({ data: { s: '\\u0000 and \\ud800' } })).not.toThrow();
  });

  it('takes positions and expected versions from 0 to 2^63 - 1', () => {
    expect(normalizePosition(MAX_POSITION, 'fromPosition')).toBe(2n ** 63n - 1n);
    expect(normalizePosition(0n, 'fromPosition')).toBe(0n);
    for (const bad of [2n ** 63n, -1n, 1, '1', null]) {
      expect(refusal(() => normalizePosition(bad as bigint, 'fromPosition'))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(normalizeExpectedVersion(2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
    expect(refusal(() => normalizeExpectedVersion(2n ** 63n))).toBeInstanceOf(InvalidArgumentError);
  });

  it('takes schema versions from 1 to 2^31 - 1', () => {
    expect(prepare({ data: {}, schemaVersion: 2 ** 31 - 1 }).events[0]!.schemaVersion).toBe(2 ** 31 - 1);
    for (const bad of [0, 2 ** 31, 1.5, Number.NaN]) {
      const error = refusal(() => prepare({ data: {}, schemaVersion: bad }));
      expect((error as InvalidEventError).field).toBe('events[0].schemaVersion');
    }
  });
});

describe('describeValue', () => {
  it('describes any value without throwing', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('no');
        },
      },
    );
    const values: unknown[] = [10n, Symbol('s'), () => 1, cycle, proxy, hostile, Object.create(null), new Date(0), [1, 2], -0, 'x'.repeat(500), undefined];
    for (const value of values) {
      const text = describeValue(value);
      expect(typeof text).toBe('string');
      expect(text.length).toBeLessThanOrEqual(81);
    }
    expect(describeValue(10n)).toBe('10n (a BigInt)');
    expect(describeValue(new Date(0))).toBe('a Date');
    expect(describeValue(proxy)).toBe('a value that cannot be printed');
  });
});
