/** The one comparison rule and query validation every read-model store shares. */
import { InvalidArgumentError } from '@eventloom/core';
import { compareCodePoints, compareValues, normalizeQuery, evaluateQuery, encodeCursor } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';

/** What SQLite's BINARY and PostgreSQL's COLLATE "C" compare: the UTF-8 bytes. */
function utf8Order(a: string, b: string): number {
  return Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** A random well-formed string drawn from ranges where UTF-16 and code point order disagree. */
function randomText(random: () => number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0xe0, 0xff],
    [0xd7f0, 0xd7ff],
    [0xe000, 0xe010],
    [0xfff0, 0xfffd],
    [0x10000, 0x10010],
    [0x1f600, 0x1f610],
    [0x10fff0, 0x10ffff],
  ];
  let text = '';
  const length = Math.floor(random() * 4);
  for (let i = 0; i < length; i++) {
    const [low, high] = ranges[Math.floor(random() * ranges.length)]!;
    text += String.fromCodePoint(low + Math.floor(random() * (high - low + 1)));
  }
  return text;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('the comparison rule', () => {
  it('orders strings by code point, as UTF-8 bytes do (not by UTF-16 code unit)', () => {
    const random = seeded(42);
    let disagreements = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = randomText(random);
      const b = randomText(random);
      expect(Math.sign(compareCodePoints(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(utf8Order(a, b));
      if (Math.sign(a < b ? -1 : a > b ? 1 : 0) !== utf8Order(a, b)) disagreements++;
    }
    // The sample does reach the cases where JavaScript's own < would be wrong.
    expect(disagreements).toBeGreaterThan(100);
  });

  it('orders kinds null/missing < booleans < numbers < strings < arrays and objects', () => {
    const ascending = [undefined, null, false, true, -1e300, -1, 0, 0.5, 1, 2 ** 53, '', '0', 'A', 'a', '\uFF5A', '\u{1F600}'];
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        const expected = i === j || (i <= 1 && j <= 1) ? 0 : Math.sign(i - j);
        expect(Math.sign(compareValues(ascending[i], ascending[j])), `${String(ascending[i])} vs ${String(ascending[j])}`).toBe(expected);
      }
    }
    expect(compareValues([1], 'zzz')).toBeGreaterThan(0);
    expect(compareValues({ a: 1 }, [2])).toBe(0);
    expect(compareValues(-0, 0)).toBe(0);
  });
});

describe('normalizeQuery', () => {
  it('normalizes plain values to eq and keeps operators', () => {
    const q = normalizeQuery('c', { where: { a: 1, b: null, c: { gte: 'x', lt: 'y' }, d: { in: [1, null] }, e: undefined }, orderBy: ['a', ['b', 'desc']], limit: 5 });
    expect(q.where).toEqual([
      { field: 'a', op: 'eq', value: 1 },
      { field: 'b', op: 'eq', value: null },
      { field: 'c', op: 'gte', value: 'x' },
      { field: 'c', op: 'lt', value: 'y' },
      { field: 'd', op: 'in', values: [1, null] },
    ]);
    expect(q.orderBy).toEqual([
      { field: 'a', direction: 'asc' },
      { field: 'b', direction: 'desc' },
    ]);
    expect(q.idDirection).toBe('desc');
    expect(q.limit).toBe(5);
    expect(normalizeQuery('c', undefined, 'page').limit).toBe(100);
    expect(normalizeQuery('c', { a: 1 }, 'count').where).toEqual([{ field: 'a', op: 'eq', value: 1 }]);
  });

  it('gives one fingerprint per query shape and values, so cursors stay with their query', () => {
    const a = normalizeQuery('c', { where: { a: 1 }, orderBy: ['b'] }, 'page');
    expect(normalizeQuery('c', { where: { a: 1 }, orderBy: ['b'], limit: 7 }, 'page').fingerprint).toBe(a.fingerprint);
    expect(normalizeQuery('c', { where: { a: 2 }, orderBy: ['b'] }, 'page').fingerprint).not.toBe(a.fingerprint);
    expect(normalizeQuery('c', { where: { a: '1' }, orderBy: ['b'] }, 'page').fingerprint).not.toBe(a.fingerprint);
    const cursor = encodeCursor(a, { keys: [{ rank: 3, value: 'x' }], id: 'd1' });
    expect(normalizeQuery('c', { where: { a: 1 }, orderBy: ['b'], after: cursor }, 'page').after).toEqual({ keys: [{ rank: 3, value: 'x' }], id: 'd1' });
    expect(() => normalizeQuery('c', { where: { a: 2 }, orderBy: ['b'], after: cursor }, 'page')).toThrow(InvalidArgumentError);
    // a cursor whose key has the wrong kind for its rank is refused
    const forged = encodeCursor(a, { keys: [{ rank: 2, value: 'x' }], id: 'd1' });
    expect(() => normalizeQuery('c', { where: { a: 1 }, orderBy: ['b'], after: forged }, 'page')).toThrow(/not a cursor of this query/);
  });

  it('evaluates in memory what the stores evaluate: filter, order, seek, limit', () => {
    const docs: [string, { n?: unknown }][] = [
      ['a', { n: 2 }],
      ['b', { n: 1 }],
      ['c', {}],
      ['d', { n: 2 }],
      ['e', { n: 'x' }],
    ];
    const first = evaluateQuery(normalizeQuery('c', { orderBy: [['n', 'desc']], limit: 2 }, 'page'), docs);
    expect(first.documents).toEqual([{ n: 'x' }, { n: 2 }]);
    const rest = evaluateQuery(normalizeQuery('c', { orderBy: [['n', 'desc']], limit: 10, after: first.next }, 'page'), docs);
    expect(rest.next).toBeNull();
    expect([...first.documents, ...rest.documents]).toEqual([{ n: 'x' }, { n: 2 }, { n: 2 }, { n: 1 }, {}]);
  });
});

describe('count', () => {
  it('says so when given a query instead of conditions', () => {
    expect(() => normalizeQuery('orders', { where: { customerId: 'c' } }, 'count')).toThrow(/count takes the conditions themselves/);
    // a field that is really called `where` still works with operators
    expect(normalizeQuery('orders', { where: { eq: 'here' } }, 'count').where).toEqual([{ field: 'where', op: 'eq', value: 'here' }]);
  });
});
