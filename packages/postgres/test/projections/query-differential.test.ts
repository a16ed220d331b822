/**
 * PostgreSQL's queries against the reference: random filters, orderings (mixed directions) and
 * cursor paging over documents with values of every kind — numbers near each other and at the
 * edges of doubles, strings where code point and UTF-16 order differ — must give exactly the ids,
 * in exactly the order, the in-memory store gives. Seeded, so a failure repeats.
 */
import { defineCollection, MemoryReadModelStore, type FindQuery, type ReadModelStore } from '@eventloom/core';
import { projectionNamespace } from '@eventloom/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore, openPostgresReadModels, type PostgresReadModelStore } from '../../src/index.js';
import { connectionString, ownerPool, postgresUrl, uniqueSchema } from './support.js';

type Doc = Record<string, unknown>;

const VALUES: readonly unknown[] = [
  undefined, null, true, false, 0, -0.5, 1, 1.5, 2, 10, -1e21, 1e21, 5e-324, 9007199254740991, 0.1, 0.30000000000000004,
  '', 'a', 'B', 'ab', 'é', '\uFF5A', '\u{1F600}', '\u{1F600}a', '10', '9', 'true', [1], { a: 1 },
];

/** Mulberry32: small, seeded. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const collection = defineCollection<Doc>('mixed', { indexes: { byAB: ['a', 'b'] } });
const p = projectionNamespace('differential', 1);
const FIELDS = ['a', 'b', 'c'] as const;

describe.skipIf(!postgresUrl)('PostgreSQL queries against the in-memory reference', () => {
  const schema = uniqueSchema('elrd');
  const pool = ownerPool();
  let postgres: PostgresReadModelStore;
  const memory = new MemoryReadModelStore();
  const rand = random(20261201);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const scalar = (): unknown => {
    const v = pick(VALUES);
    return v === undefined || Array.isArray(v) || (typeof v === 'object' && v !== null) ? pick(['x', 1, null, true]) : v;
  };

  beforeAll(async () => {
    postgres = await openPostgresReadModels({ pool, schema });
    const documents: [string, Doc][] = [];
    for (let i = 0; i < 80; i++) {
      const id = `d${String(i).padStart(2, '0')}${pick(['', 'x', '\u{1F600}', 'Z'])}`;
      // The id inside too, so that the answers' order shows even between otherwise equal documents.
      const doc: Doc = { _id: id };
      for (const field of FIELDS) {
        const value = pick(VALUES);
        if (value !== undefined) doc[field] = value;
      }
      documents.push([id, doc]);
    }
    for (const store of [postgres, memory] as ReadModelStore[]) {
      await store.transaction(async (tx) => {
        await tx.prepareCollections(p, [collection]);
        for (const [id, doc] of documents) await tx.handle(p).collection(collection).upsert(id, doc);
      });
    }
  });
  afterAll(async () => {
    await postgres?.close();
    await pool.end();
    await dropPostgresEventStore({ connectionString, schema });
  });

  function randomQuery(): FindQuery<Doc> {
    const where: Record<string, unknown> = {};
    for (const field of FIELDS) {
      if (rand() < 0.5) continue;
      const r = rand();
      if (r < 0.25) where[field] = scalar();
      else if (r < 0.4) where[field] = { ne: scalar() };
      else if (r < 0.55) where[field] = { in: [scalar(), scalar(), scalar()] };
      else {
        const bound = (): unknown => {
          const v = scalar();
          return v === null ? 1 : v;
        };
        const op = pick(['gt', 'gte', 'lt', 'lte']);
        where[field] = rand() < 0.5 ? { [op]: bound() } : { [op]: bound(), [pick(['gt', 'gte', 'lt', 'lte'])]: bound() };
      }
    }
    const orderBy: [string, 'asc' | 'desc'][] = [];
    for (const field of FIELDS) if (rand() < 0.4) orderBy.push([field, rand() < 0.5 ? 'asc' : 'desc']);
    if (rand() < 0.5) orderBy.reverse();
    return { where, orderBy } as FindQuery<Doc>;
  }

  const ids = async (store: ReadModelStore, query: FindQuery<Doc>): Promise<string[]> =>
    store.read(p, async (view) => {
      const all = await view.collection(collection).find(query);
      return all.map((d) => String(d['_id']));
    });

  it('400 random finds and counts give the reference\'s documents in the reference\'s order', async () => {
    for (let i = 0; i < 400; i++) {
      const query = randomQuery();
      const expected = await ids(memory, query);
      expect(await ids(postgres, query), JSON.stringify(query)).toEqual(expected);
      const count = await postgres.read(p, (view) => view.collection(collection).count(query.where));
      expect(count, JSON.stringify(query.where)).toBe(expected.length);
    }
  });

  it('paging by cursor through 100 random queries gives the same documents as one find, page by page as the reference', async () => {
    for (let i = 0; i < 100; i++) {
      const query = randomQuery();
      const limit = 1 + Math.floor(rand() * 9);
      const pages = async (store: ReadModelStore): Promise<string[][]> => {
        const out: string[][] = [];
        let after: string | null = null;
        for (let n = 0; n < 100; n++) {
          const page = await store.read(p, (view) => view.collection(collection).findPage({ ...query, limit, after }));
          out.push(page.documents.map((d) => String(d['_id'])));
          if (page.next === null) break;
          after = page.next;
        }
        return out;
      };
      const expected = await pages(memory);
      const got = await pages(postgres);
      expect(got, JSON.stringify({ query, limit })).toEqual(expected);
      expect(got.flat()).toEqual(await ids(postgres, query));
    }
  });
});
