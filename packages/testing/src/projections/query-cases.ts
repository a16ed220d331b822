/**
 * The query cases of the read-model store conformance suite: filters, the one comparison rule
 * (kinds, then values; strings by code point), ordering, limits, cursor paging and bad queries.
 * Every store must give exactly the answers the in-memory store gives.
 */
import {
  defineCollection,
  InvalidArgumentError,
  type DocumentReader,
  type FindQuery,
  type PageQuery,
  type ReadModelStore,
} from '@eventloom/core';
import { projectionNamespace, type ProjectionNamespace } from '@eventloom/core/adapter';
import { describe, expect } from 'vitest';

type Test = (name: string, fn: () => Promise<void>) => void;

export interface Sale {
  customerId: string;
  placedAt: string;
  total: number;
  express?: boolean;
  note?: string | null;
}

/** Values of every kind, and strings where code point order and UTF-16 order differ. */
export const MIXED: readonly [id: string, value: unknown][] = [
  ['m01', 'a'],
  ['m02', 10],
  ['m03', true],
  ['m04', null],
  ['m05', undefined],
  ['m06', 'B'],
  ['m07', -1.5],
  ['m08', false],
  ['m09', '\u{1F600}'],
  ['m10', '\uFF5A'],
  ['m11', 2],
  ['m12', [1, 2]],
  ['m13', ''],
  ['m14', { a: 1 }],
  ['m15', 'é'],
  ['m16', 0],
  ['m17', 'ab'],
  ['m18', 9007199254740991],
  ['m19', null],
  ['m20', 2.5],
];

/** MIXED in the rule's ascending order: null/missing (by id), false, true, numbers, strings by code point, then arrays/objects (by id). */
export const MIXED_ASCENDING = ['m04', 'm05', 'm19', 'm08', 'm03', 'm07', 'm16', 'm11', 'm20', 'm02', 'm18', 'm13', 'm06', 'm01', 'm17', 'm15', 'm10', 'm09', 'm12', 'm14'];

const sales = defineCollection<Sale>('sales', { indexes: { byCustomer: ['customerId', 'placedAt'] } });

let unique = 0;
function ns(): ProjectionNamespace {
  unique++;
  return projectionNamespace(`query-${process.pid}-${unique}`, 1);
}

const ids = (docs: readonly { id: string }[]): string[] => docs.map((d) => d.id);

export function queryCases(test: Test, store: () => Promise<ReadModelStore>): void {
  /** A namespace holding `documents` (the id is also a field, so answers are easy to read). */
  const seeded = async <T extends object>(collection: string, documents: readonly [string, T][]): Promise<{ readModels: ReadModelStore; p: ProjectionNamespace }> => {
    const readModels = await store();
    const p = ns();
    await readModels.transaction(async (tx) => {
      const docs = tx.handle(p).collection<T & { id: string }>(collection);
      for (const [id, document] of documents) await docs.upsert(id, { ...document, id });
    });
    return { readModels, p };
  };
  const mixed = () =>
    seeded<{ v?: unknown }>(
      'mixed',
      MIXED.map(([id, v]) => [id, v === undefined ? {} : { v }] as [string, { v?: unknown }]),
    );
  type Mixed = { id: string; v?: string | number | boolean | null };
  const read = <R>(readModels: ReadModelStore, p: ProjectionNamespace, collection: string, fn: (docs: DocumentReader<Mixed>) => Promise<R>) =>
    readModels.read(p, (view) => fn(view.collection<Mixed>(collection)));

  describe('queries', () => {
    test('orders values of mixed kinds by the one rule: null/missing < booleans < numbers < strings (by code point) < others', async () => {
      const { readModels, p } = await mixed();
      await read(readModels, p, 'mixed', async (docs) => {
        expect(ids(await docs.find({ orderBy: ['v'] }))).toEqual(MIXED_ASCENDING);
        expect(ids(await docs.find({ orderBy: [['v', 'asc']] }))).toEqual(MIXED_ASCENDING);
        // the id breaks ties in the direction of the last sort key, so descending is the exact reverse
        expect(ids(await docs.find({ orderBy: [['v', 'desc']] }))).toEqual([...MIXED_ASCENDING].reverse());
        // no orderBy: by id
        expect(ids(await docs.find())).toEqual(MIXED.map(([id]) => id));
      });
    });

    test('equality holds within a kind: 1 is not "1" or true; null matches null and missing', async () => {
      const { readModels, p } = await seeded<{ v?: unknown }>('eq', [
        ['a', { v: 1 }],
        ['b', { v: '1' }],
        ['c', { v: true }],
        ['d', { v: 1.0 }],
        ['e', { v: null }],
        ['f', {}],
        ['g', { v: [1] }],
        ['h', { v: { v: 1 } }],
        ['i', { v: 0 }],
        ['j', { v: false }],
        ['k', { v: '' }],
      ]);
      await read(readModels, p, 'eq', async (docs) => {
        expect(ids(await docs.find({ where: { v: 1 } }))).toEqual(['a', 'd']);
        expect(ids(await docs.find({ where: { v: { eq: 1 } } }))).toEqual(['a', 'd']);
        expect(ids(await docs.find({ where: { v: '1' } }))).toEqual(['b']);
        expect(ids(await docs.find({ where: { v: true } }))).toEqual(['c']);
        expect(ids(await docs.find({ where: { v: false } }))).toEqual(['j']);
        expect(ids(await docs.find({ where: { v: 0 } }))).toEqual(['i']);
        expect(ids(await docs.find({ where: { v: -0 } }))).toEqual(['i']);
        expect(ids(await docs.find({ where: { v: '' } }))).toEqual(['k']);
        expect(ids(await docs.find({ where: { v: null } }))).toEqual(['e', 'f']);
        expect(ids(await docs.find({ where: { v: { eq: null } } }))).toEqual(['e', 'f']);
        expect(await docs.count({ v: null })).toBe(2);
        expect(await docs.count({ v: 1 })).toBe(2);
      });
    });

    test('ne is exactly "not eq": it matches missing fields and other kinds too', async () => {
      const { readModels, p } = await mixed();
      await read(readModels, p, 'mixed', async (docs) => {
        const all = MIXED.map(([id]) => id);
        expect(ids(await docs.find({ where: { v: { ne: null } } }))).toEqual(all.filter((id) => !['m04', 'm05', 'm19'].includes(id)));
        expect(ids(await docs.find({ where: { v: { ne: 'a' } } }))).toEqual(all.filter((id) => id !== 'm01'));
        expect(ids(await docs.find({ where: { v: { ne: 2 } } }))).toEqual(all.filter((id) => id !== 'm11'));
        expect(ids(await docs.find({ where: { v: { ne: false } } }))).toEqual(all.filter((id) => id !== 'm08'));
        expect(await docs.count({ v: { ne: 'nothing has this' } })).toBe(MIXED.length);
      });
    });

    test('in matches any of its values, null included; an empty in matches nothing', async () => {
      const { readModels, p } = await mixed();
      await read(readModels, p, 'mixed', async (docs) => {
        expect(ids(await docs.find({ where: { v: { in: ['a', 2, true] } } }))).toEqual(['m01', 'm03', 'm11']);
        expect(ids(await docs.find({ where: { v: { in: [null, 'B'] } } }))).toEqual(['m04', 'm05', 'm06', 'm19']);
        expect(ids(await docs.find({ where: { v: { in: ['2', 'true'] } } }))).toEqual([]);
        expect(await docs.find({ where: { v: { in: [] } } })).toEqual([]);
        expect(await docs.count({ v: { in: [10, 0] } })).toBe(2);
      });
    });

    test('ranges match values of the bound\'s kind only, by the rule', async () => {
      const { readModels, p } = await mixed();
      await read(readModels, p, 'mixed', async (docs) => {
        const asc = { orderBy: ['v'] } as const;
        expect(ids(await docs.find({ ...asc, where: { v: { gt: 0 } } }))).toEqual(['m11', 'm20', 'm02', 'm18']);
        expect(ids(await docs.find({ ...asc, where: { v: { gte: 0 } } }))).toEqual(['m16', 'm11', 'm20', 'm02', 'm18']);
        expect(ids(await docs.find({ ...asc, where: { v: { lt: 2.5 } } }))).toEqual(['m07', 'm16', 'm11']);
        expect(ids(await docs.find({ ...asc, where: { v: { gte: 2, lte: 10 } } }))).toEqual(['m11', 'm20', 'm02']);
        // a string bound never matches numbers, booleans or null
        expect(ids(await docs.find({ ...asc, where: { v: { lt: 'a' } } }))).toEqual(['m13', 'm06']);
        expect(ids(await docs.find({ ...asc, where: { v: { gte: 'a' } } }))).toEqual(['m01', 'm17', 'm15', 'm10', 'm09']);
        // by code point: U+FF5A < U+1F600 (UTF-16 code units would say the opposite)
        expect(ids(await docs.find({ ...asc, where: { v: { gt: '\uFF5A' } } }))).toEqual(['m09']);
        expect(ids(await docs.find({ ...asc, where: { v: { gt: 'a', lt: 'b' } } }))).toEqual(['m17']);
        expect(ids(await docs.find({ ...asc, where: { v: { gte: false } } }))).toEqual(['m08', 'm03']);
        expect(ids(await docs.find({ ...asc, where: { v: { gt: false } } }))).toEqual(['m03']);
        // bounds of two kinds cannot both hold
        expect(await docs.find({ where: { v: { gt: 0, lt: 'z' } } })).toEqual([]);
        expect(await docs.count({ v: { gt: -100 } })).toBe(6);
      });
    });

    test('filters on several fields at once, with ordering on several keys', async () => {
      const readModels = await store();
      const p = ns();
      await readModels.transaction(async (tx) => {
        await tx.prepareCollections(p, [sales]);
        const docs = tx.handle(p).collection(sales);
        await docs.upsert('s1', { customerId: 'c1', placedAt: '2026-01-03T10:00:00.000Z', total: 30, express: true });
        await docs.upsert('s2', { customerId: 'c2', placedAt: '2026-01-01T10:00:00.000Z', total: 10 });
        await docs.upsert('s3', { customerId: 'c1', placedAt: '2026-01-01T10:00:00.000Z', total: 20, note: null });
        await docs.upsert('s4', { customerId: 'c1', placedAt: '2026-01-02T10:00:00.000Z', total: 20, note: 'gift' });
        await docs.upsert('s5', { customerId: 'c1', placedAt: '2025-12-31T10:00:00.000Z', total: 5 });
        await docs.upsert('s6', { customerId: 'c3', placedAt: '2026-01-05T10:00:00.000Z', total: 20 });
      });
      await readModels.read(p, async (view) => {
        const docs = view.collection(sales);
        const placed = (found: Sale[]): string[] => found.map((s) => s.placedAt.slice(0, 10));
        expect(
          placed(await docs.find({ where: { customerId: 'c1', placedAt: { gte: '2026-01-01' } }, orderBy: [['placedAt', 'desc']], limit: 20 })),
        ).toEqual(['2026-01-03', '2026-01-02', '2026-01-01']);
        expect(placed(await docs.find({ where: { customerId: 'c1' }, orderBy: [['placedAt', 'desc']], limit: 2 }))).toEqual(['2026-01-03', '2026-01-02']);
        expect((await docs.find({ orderBy: [['total', 'desc'], 'customerId'] })).map((s) => `${s.total}/${s.customerId}`)).toEqual([
          '30/c1',
          '20/c1',
          '20/c1',
          '20/c3',
          '10/c2',
          '5/c1',
        ]);
        expect((await docs.find({ where: { total: 20 }, orderBy: ['customerId', ['placedAt', 'desc']] })).map((s) => s.placedAt.slice(0, 10))).toEqual([
          '2026-01-02',
          '2026-01-01',
          '2026-01-05',
        ]);
        expect(await docs.count({ customerId: { in: ['c1', 'c3'] }, total: { lt: 25 } })).toBe(4);
        expect(await docs.count({ note: null })).toBe(5);
        expect(await docs.count({ express: { ne: true } })).toBe(5);
        // the declared collection and its name address the same documents
        expect(await view.collection<Sale>('sales').count()).toBe(6);
      });
    });

    test('declared indexes are prepared idempotently, and queries answer the same with them', async () => {
      const readModels = await store();
      const p = ns();
      const indexed = defineCollection<Sale>('indexed-sales', { indexes: { byCustomer: ['customerId', 'placedAt'], byTotal: ['total'] } });
      await readModels.transaction((tx) => tx.prepareCollections(p, [indexed]));
      await readModels.transaction(async (tx) => {
        await tx.prepareCollections(p, [indexed]);
        for (let i = 0; i < 30; i++) {
          await tx.handle(p).collection(indexed).upsert(`s${i}`, { customerId: `c${i % 3}`, placedAt: `2026-01-${String(1 + (i % 28)).padStart(2, '0')}`, total: i % 7 });
        }
      });
      const found = await readModels.read(p, (view) =>
        view.collection(indexed).find({ where: { customerId: 'c1', placedAt: { gte: '2026-01-10' } }, orderBy: [['placedAt', 'desc']] }),
      );
      expect(found.map((s) => s.placedAt)).toEqual(['2026-01-26', '2026-01-23', '2026-01-20', '2026-01-17', '2026-01-14', '2026-01-11']);
      expect(await readModels.read(p, (view) => view.collection(indexed).count({ total: { gte: 5 } }))).toBe(8);
      // dropping the namespace drops its indexes too: preparing again works
      await readModels.transaction((tx) => tx.dropNamespace(p.namespace));
      await readModels.transaction((tx) => tx.prepareCollections(p, [indexed]));
      expect(await readModels.read(p, (view) => view.collection(indexed).count())).toBe(0);
    });

    test('fields may be any plain identifier, "_" and "$" included; an empty answer has no next page', async () => {
      const { readModels, p } = await seeded<{ _under?: number; $dollar?: string; camelCase?: boolean }>('idents', [
        ['a', { _under: 1, $dollar: 'x', camelCase: true }],
        ['b', { _under: 2, $dollar: 'y' }],
        ['c', { camelCase: false }],
      ]);
      await readModels.read(p, async (view) => {
        type Idents = { id: string; _under?: number; $dollar?: string; camelCase?: boolean };
        const docs = view.collection<Idents>('idents');
        expect(ids(await docs.find({ where: { _under: { gte: 1 } }, orderBy: [['_under', 'desc']] }))).toEqual(['b', 'a']);
        expect(ids(await docs.find({ where: { $dollar: 'y' } }))).toEqual(['b']);
        expect(ids(await docs.find({ where: { camelCase: { ne: true } }, orderBy: ['$dollar'] }))).toEqual(['c', 'b']);
        expect(await docs.findPage({ where: { _under: 99 }, orderBy: ['_under'], limit: 5 })).toEqual({ documents: [], next: null });
        expect(await view.collection<Idents>('no-such-collection').findPage({ limit: 5 })).toEqual({ documents: [], next: null });
      });
    });

    test('limit takes the first documents in order; pages by cursor are stable under ties', async () => {
      const documents: [string, { group: number; n: number }][] = [];
      for (let i = 0; i < 23; i++) documents.push([`d${String((i * 7) % 23).padStart(2, '0')}`, { group: i % 3, n: i }]);
      const { readModels, p } = await seeded('paged', documents);
      await readModels.read(p, async (view) => {
        const docs = view.collection<{ id: string; group: number; n: number }>('paged');
        for (const query of [
          { orderBy: ['group'] },
          { orderBy: [['group', 'desc']] },
          { where: { group: { ne: 1 } }, orderBy: [['group', 'desc'], 'n'] },
          {},
        ] as PageQuery<{ id: string; group: number; n: number }>[]) {
          const everything = ids(await docs.find(query));
          expect(ids(await docs.find({ ...query, limit: 5 }))).toEqual(everything.slice(0, 5));
          const paged: string[] = [];
          let after: string | null = null;
          let pages = 0;
          do {
            const page = await docs.findPage({ ...query, limit: 4, after });
            expect(page.documents.length).toBeLessThanOrEqual(4);
            paged.push(...ids(page.documents));
            after = page.next;
            pages++;
            expect(pages).toBeLessThan(20);
          } while (after !== null);
          expect(paged).toEqual(everything);
          expect(pages).toBe(Math.max(1, Math.ceil(everything.length / 4)));
        }
        const first = await docs.findPage({ orderBy: ['group'], limit: 23 });
        expect(first.next).toBeNull();
        expect(first.documents).toHaveLength(23);
        const defaultPage = await docs.findPage();
        expect(defaultPage.documents).toHaveLength(23);
        expect(defaultPage.next).toBeNull();
      });
    });

    test('a cursor keeps its place when documents are written between pages', async () => {
      const documents: [string, { rank: number }][] = [];
      for (let i = 0; i < 10; i++) documents.push([`k${i}`, { rank: i * 10 }]);
      const { readModels, p } = await seeded('moving', documents);
      type Ranked = { id: string; rank: number };
      const page = (after: string | null) =>
        readModels.read(p, (view) => view.collection<Ranked>('moving').findPage({ orderBy: ['rank'], limit: 3, after }));
      const first = await page(null);
      expect(ids(first.documents)).toEqual(['k0', 'k1', 'k2']);
      await readModels.transaction(async (tx) => {
        const docs = tx.handle(p).collection<Ranked>('moving');
        await docs.upsert('early', { id: 'early', rank: 5 }); // before the cursor: not seen again
        await docs.upsert('late', { id: 'late', rank: 25 }); // after it: seen next
        await docs.delete('k3');
      });
      const second = await page(first.next);
      expect(ids(second.documents)).toEqual(['late', 'k4', 'k5']);
    });

    test('a cursor of another query, or no cursor at all, is INVALID_ARGUMENT', async () => {
      const documents: [string, { group: number }][] = [];
      for (let i = 0; i < 6; i++) documents.push([`d${i}`, { group: i % 2 }]);
      const { readModels, p } = await seeded('cursors', documents);
      await readModels.read(p, async (view) => {
        const docs = view.collection<{ id: string; group: number }>('cursors');
        const { next } = await docs.findPage({ orderBy: ['group'], limit: 2 });
        expect(next).toEqual(expect.any(String));
        for (const [what, query] of [
          ['other orderBy', { orderBy: [['group', 'desc']], after: next }],
          ['other where', { where: { group: 1 }, orderBy: ['group'], after: next }],
          ['no orderBy', { after: next }],
          ['garbage', { orderBy: ['group'], after: 'not-a-cursor' }],
          ['tampered', { orderBy: ['group'], after: `${next!.slice(0, -3)}xyz` }],
          ['not a string', { orderBy: ['group'], after: 42 }],
        ] as [string, PageQuery<{ group: number }>][]) {
          const error = await docs.findPage(query).catch((e: unknown) => e);
          expect(error, what).toBeInstanceOf(InvalidArgumentError);
          expect((error as InvalidArgumentError).code, what).toBe('INVALID_ARGUMENT');
          expect((error as Error).message, what).toMatch(/after/);
        }
        // the same query takes it
        expect((await docs.findPage({ orderBy: ['group'], limit: 2, after: next })).documents).toHaveLength(2);
      });
    });

    test('bad queries are INVALID_ARGUMENT naming the part, and change nothing', async () => {
      const readModels = await store();
      const p = ns();
      await readModels.transaction((tx) => tx.handle(p).collection<Sale>('sales').upsert('s', { customerId: 'c', placedAt: 't', total: 1 }));
      const bad: [string, unknown, RegExp][] = [
        ['unknown operator', { where: { total: { like: 1 } } }, /where\.total\.like.*not an operator/],
        ['nested field path', { where: { 'address.city': 'x' } }, /where field "address\.city".*plain identifier/],
        ['array index path', { where: { 'items[0]': 1 } }, /plain identifier/],
        ['empty field', { where: { '': 1 } }, /plain identifier/],
        ['object value', { where: { total: { eq: { a: 1 } } } }, /where\.total\.eq/],
        ['array value', { where: { total: [1, 2] } }, /where\.total.*array/],
        ['NaN', { where: { total: { gt: Number.NaN } } }, /where\.total\.gt.*finite/],
        ['Infinity', { where: { total: Number.POSITIVE_INFINITY } }, /finite/],
        ['bigint', { where: { total: 1n } }, /bigint/],
        ['Date', { where: { placedAt: { gte: new Date() } } }, /where\.placedAt\.gte/],
        ['null range bound', { where: { total: { lt: null } } }, /where\.total\.lt/],
        ['in not an array', { where: { total: { in: 1 } } }, /where\.total\.in.*array/],
        ['empty operator object', { where: { total: {} } }, /where\.total/],
        ['lone surrogate', { where: { placedAt: '\uD800' } }, /surrogate/],
        ['filter without where', { customerId: 'c' }, /query key "customerId".*where/],
        ['limit 0', { limit: 0 }, /limit.*1 to 10000/],
        ['limit -1', { limit: -1 }, /limit/],
        ['limit too big', { limit: 10_001 }, /limit/],
        ['limit fraction', { limit: 1.5 }, /limit/],
        ['orderBy not an array', { orderBy: 'total' }, /orderBy/],
        ['orderBy direction', { orderBy: [['total', 'up']] }, /orderBy\[0\].*'asc' or 'desc'/],
        ['orderBy path', { orderBy: ['a.b'] }, /orderBy\[0\].*plain identifier/],
        ['orderBy twice', { orderBy: ['total', ['total', 'desc']] }, /orderBy\[1\]/],
        ['query not an object', 'total', /query/],
        ['too many in values', { where: { total: { in: Array.from({ length: 1_001 }, (_, i) => i) } } }, /where\.total\.in.*at most 1000/],
        ['too many terms', { where: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, i])) }, /at most 32/],
        ['field name too long', { where: { [`f${'x'.repeat(100)}`]: 1 } }, /plain identifier of at most 100/],
        ['quote in a field', { where: { "a'b": 1 } }, /plain identifier/],
        ['unknown orderBy field type', { orderBy: [[1, 'asc']] }, /orderBy\[0\].*must name a field/],
      ];
      for (const [what, query, message] of bad) {
        const error = await readModels
          .read(p, (view) => view.collection<Sale>('sales').find(query as FindQuery<Sale>))
          .catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message, what).toMatch(message);
        expect((error as Error).message, what).toMatch(/sales/);
      }
      const countError = await readModels.read(p, (view) => view.collection<Sale>('sales').count({ total: { between: 1 } } as never)).catch((e: unknown) => e);
      expect(countError).toBeInstanceOf(InvalidArgumentError);
      const pageError = await readModels.read(p, (view) => view.collection<Sale>('sales').findPage({ limit: 0 })).catch((e: unknown) => e);
      expect(pageError).toBeInstanceOf(InvalidArgumentError);
      // a bad query inside a transaction fails it: nothing it wrote is kept
      await expect(
        readModels.transaction(async (tx) => {
          const docs = tx.handle(p).collection<Sale>('sales');
          await docs.upsert('kept-out', { customerId: 'c', placedAt: 't', total: 2 });
          await docs.find({ where: { total: { like: 2 } } } as never);
        }),
      ).rejects.toThrow(InvalidArgumentError);
      expect(await readModels.read(p, (view) => view.collection('sales').count())).toBe(1);
    });
  });
}
