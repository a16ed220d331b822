// The send and append checks build field names only for an error, reuse one walk state and read
// the clock once per 256 generated ids: none of that may change what they accept, refuse or say.
import { InvalidEventError, isUuid, MAX_EVENT_BYTES, MAX_JSON_DEPTH, type EventToAppend } from '@eventloom/core';
import { assertJson } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';
import { checkAppend } from '../src/event-store/prepare-append.js';

type Refusal = { field: string; reason: string } | 'accepted';

function refusal(run: () => unknown): Refusal {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return { field: error.field, reason: error.reason };
  }
}

/** Appends `bad` as the third of three events, with and without writing the JSON text. */
function third(bad: Record<string, unknown>, writeJson: boolean): Refusal {
  const events = [{ type: 'Ok', data: { a: 1 } }, { type: 'Ok', data: { b: [1, 2] } }, { type: 'X', data: {}, ...bad }];
  return refusal(() => checkAppend('s-1', events as EventToAppend[], undefined, undefined, writeJson));
}

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

const CASES: [string, Record<string, unknown>, string, RegExp][] = [
  ['a BigInt deep in data', { data: { a: [{ b: 1n }] } }, 'events[2].data.a[0].b', /BigInt/],
  ['U+0000 in a data string', { data: { text: 'a\u0000b' } }, 'events[2].data.text', /U\+0000/],
  ['a lone surrogate in a metadata string', { metadata: { note: 'x\udc00' } }, 'events[2].metadata.note', /surrogate/],
  ['U+0000 in a data key', { data: { o: { ['k\u0000']: 1 } } }, 'events[2].data.o key "k\\u0000"', /U\+0000/],
  ['a Date in metadata', { metadata: { at: new Date(0) } }, 'events[2].metadata.at', /ISO string/],
  ['nesting too deep', { data: nested(MAX_JSON_DEPTH + 1) }, 'events[2].data', /more than 64 levels deep \(at events\[2\]\.data\.a\[0\]/],
  ['an event too large', { data: { blob: 'x'.repeat(MAX_EVENT_BYTES) } }, 'events[2]', /as JSON/],
  ['a missing type', { type: '' }, 'events[2].type', /is missing/],
  ['U+0000 in the type', { type: 'A\u0000' }, 'events[2].type', /U\+0000/],
  ['a bad id', { id: 'nope' }, 'events[2].id', /must be a UUID/],
  ['a bad schema version', { schemaVersion: 0 }, 'events[2].schemaVersion', /integer from 1/],
  ['metadata that is not an object', { metadata: [] }, 'events[2].metadata', /must be an object/],
  ['a lone surrogate in the correlation id', { correlationId: 'c\ud800' }, 'events[2].correlationId', /surrogate/],
  ['an empty causation id', { causationId: '' }, 'events[2].causationId', /non-empty string/],
];

describe('send and append checks', () => {
  for (const writeJson of [true, false]) {
    for (const [name, bad, field, reason] of CASES) {
      it(`names the field of ${name} exactly (JSON text ${writeJson ? 'written' : 'not written'})`, () => {
        const found = third(bad, writeJson);
        expect(found).not.toBe('accepted');
        expect((found as { field: string }).field).toBe(field);
        expect((found as { reason: string }).reason).toMatch(reason);
      });
    }
  }

  it('starts afresh after a refusal that threw deep inside a value (no keys or ancestors left over)', () => {
    const shared = { x: { y: 1n } };
    expect(refusal(() => assertJson({ a: { b: shared } }, 'first'))).toEqual({ field: 'first.a.b.x.y', reason: expect.stringMatching(/BigInt/) });
    shared.x.y = 2 as unknown as bigint;
    // The object that was on the path when the first check threw is no cycle now.
    expect(refusal(() => assertJson({ a: { b: shared } }, 'first'))).toBe('accepted');
    expect(refusal(() => assertJson({ c: Number.NaN }, 'second'))).toEqual({ field: 'second.c', reason: expect.stringMatching(/NaN/) });
    expect(third({ data: { z: () => 1 } }, false)).toEqual({ field: 'events[2].data.z', reason: expect.stringMatching(/function/) });
  });

  it('keeps its place when a getter in the value runs a check of its own', () => {
    const data = {
      get inner(): number {
        expect(refusal(() => assertJson({ deep: { er: 1n } }, 'inside'))).toEqual({ field: 'inside.deep.er', reason: expect.stringMatching(/BigInt/) });
        return 1;
      },
      after: Symbol('s'),
    };
    expect(third({ data }, false)).toEqual({ field: 'events[2].data.after', reason: expect.stringMatching(/symbol/) });
    expect(third({ data }, true)).toEqual({ field: 'events[2].data.after', reason: expect.stringMatching(/symbol/) });
  });

  it('accepts text that only looks like an escape and refuses the characters themselves when the JSON is written', () => {
    for (const text of ['\\u0000', '\\U0000', '\\ud800', 'back\\slash', 'caf\u00e9 \ud83d\ude00']) {
      expect(third({ data: { text, [text]: text } }, true)).toBe('accepted');
    }
    expect(third({ data: { ok: 'fine', bad: ['\\u0000', 'x\u0000'] } }, true)).toEqual({ field: 'events[2].data.bad[1]', reason: expect.stringMatching(/U\+0000/) });
    expect(third({ metadata: { ['\ud800']: 1 } }, true)).toEqual({ field: 'events[2].metadata key "\\ud800"', reason: expect.stringMatching(/surrogate/) });
  });

  it('gives the events of one large append unique, well-formed ids that keep increasing past every clock read', () => {
    const events = Array.from({ length: 5_000 }, (_, n) => ({ type: 'N', data: { n } }));
    const before = Date.now();
    const ids = [
      ...checkAppend('s-1', events, undefined, undefined, false).events.map((event) => event.id),
      ...checkAppend('s-1', events.slice(0, 300), undefined, undefined, true).events.map((event) => event.id),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(before);
    // Every hex digit turns up in the random tails, and the two digits of one random byte agree
    // about one time in sixteen (the table-driven pool writes each nibble on its own).
    expect(new Set(ids.flatMap((id) => [...id.slice(24)])).size).toBe(16);
    const pairs = ids.flatMap((id) => [21, 24, 26, 28, 30, 32, 34].map((at) => id[at] === id[at + 1]));
    expect(pairs.filter(Boolean).length / pairs.length).toBeLessThan(0.1);
  });
});
