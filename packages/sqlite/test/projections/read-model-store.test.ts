/** SQLite read-model store specifics: async transactions serialized per connection, the unit of work, indexes, locking, schema versions, own tables. */
import {
  defineCollection,
  InvalidArgumentError,
  StoreUnavailableError,
  TransactionClosedError,
  type FindQuery,
} from '@eventloom/core';
import { normalizeQuery, projectionNamespace } from '@eventloom/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteReadModels, type SqliteReadModelStore } from '../../src/index.js';
import { querySql, type SqlParam } from '../../src/projections/query-sql.js';
import { tempDir } from './temp-dir.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function open(filename?: string): { readModels: SqliteReadModelStore; filename: string } {
  let file = filename;
  if (!file) {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    file = dir.file('read-models.db');
  }
  const readModels = openSqliteReadModels({ filename: file });
  cleanups.push(() => readModels.close());
  return { readModels, filename: file };
}

const p = projectionNamespace('store-test', 1);
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('SqliteReadModelStore', () => {
  it('keeps a transaction that awaits between its writes whole, and serializes the connection meanwhile', async () => {
    const { readModels } = open();
    const log: string[] = [];
    const first = readModels.transaction(async (tx) => {
      const docs = tx.handle(p).collection<{ n: number }>('docs');
      await docs.upsert('a', { n: 1 });
      log.push('first wrote a');
      await pause(30);
      log.push(`first counts ${await docs.count()}`);
      await docs.upsert('b', { n: 2 });
      log.push('first commits');
    });
    const second = readModels.transaction(async (tx) => {
      log.push(`second sees ${await tx.handle(p).collection('docs').count()}`);
      await tx.handle(p).collection('docs').upsert('c', { n: 3 });
    });
    const read = readModels.read(p, async (view) => log.push(`read sees ${await view.collection('docs').count()}`));
    await Promise.all([first, second, read]);
    expect(log).toEqual(['first wrote a', 'first counts 1', 'first commits', 'second sees 2', 'read sees 3']);
  });

  it('closing the event store waits for a read-model transaction open across an await on its connection', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const eventStore = openSqliteEventStore({ filename: dir.file('app.db'), durability: 'normal' });
    const readModels = openSqliteReadModels({ database: eventStore.database });
    const transaction = readModels.transaction(async (tx) => {
      await pause(30);
      await tx.handle(p).collection('docs').upsert('a', { v: 1 });
      return 'committed';
    });
    await pause(5);
    await eventStore.close();
    expect(await transaction).toBe('committed');
    const reopened = openSqliteEventStore({ filename: dir.file('app.db') });
    cleanups.push(() => reopened.close());
    const again = openSqliteReadModels({ database: reopened.database });
    expect(await again.transaction((tx) => tx.handle(p).collection('docs').get('a'), { readOnly: true })).toEqual({ v: 1 });
  });

  it('a failure after an await rolls back what was written before it', async () => {
    const { readModels } = open();
    await readModels.transaction((tx) => tx.handle(p).collection('docs').upsert('kept', { v: 1 }));
    await expect(
      readModels.transaction(async (tx) => {
        const docs = tx.handle(p).collection('docs');
        await docs.upsert('lost', { v: 2 });
        await tx.handle(p).db.prepare(`CREATE TABLE ${tx.handle(p).table('rows')} (id INTEGER)`).run();
        await pause(5);
        throw new Error('failed after the await');
      }),
    ).rejects.toThrow('failed after the await');
    expect(await readModels.read(p, (view) => view.collection('docs').find())).toEqual([{ v: 1 }]);
    expect(readModels.database.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'store-test@1/rows'`).pluck().get()).toBe(0);
  });

  it('SQL through the handle after its transaction ended is TRANSACTION_CLOSED and writes nothing', async () => {
    const { readModels } = open();
    let kept: { run(): unknown } | undefined;
    let late: unknown;
    await readModels.transaction(async (tx) => {
      const { db, table } = tx.handle(p);
      db.exec(`CREATE TABLE ${table('rows')} (note TEXT)`);
      kept = db.prepare(`INSERT INTO ${table('rows')} VALUES ('late')`);
      setTimeout(() => {
        try {
          db.exec(`INSERT INTO ${table('rows')} VALUES ('late')`);
        } catch (error) {
          late = error;
        }
      }, 5);
    });
    await pause(20);
    expect(late).toBeInstanceOf(TransactionClosedError);
    expect(() => kept!.run()).toThrow(TransactionClosedError);
    expect(readModels.database.prepare('SELECT count(*) FROM "store-test@1/rows"').pluck().get()).toBe(0);
  });

  it('a declared index is a real expression index the query plan uses for equality, range and ordering', async () => {
    const { readModels } = open();
    const orders = defineCollection<{ customerId: string; placedAt: string; total: number }>('customer-orders', {
      indexes: { byCustomer: ['customerId', 'placedAt'] },
    });
    const all = Array.from({ length: 200 }, (_, i) => ({ id: `o${i}`, customerId: `c-${i % 10}`, placedAt: `2026-01-${String((i % 28) + 1).padStart(2, '0')}`, total: i }));
    await readModels.transaction(async (tx) => {
      await tx.prepareCollections(p, [orders]);
      const docs = tx.handle(p).collection(orders);
      for (const { id, ...order } of all) await docs.upsert(id, order);
    });
    readModels.database.exec('ANALYZE');
    const indexes = readModels.database.prepare<[], string>(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rm_documents' AND name LIKE 'store-test@1/%'`).pluck().all();
    expect(indexes).toEqual(['store-test@1/customer-orders/byCustomer']);
    const query: FindQuery<{ customerId: string; placedAt: string; total: number }> = {
      where: { customerId: 'c-3', placedAt: { gte: '2026-01-10' } },
      orderBy: [['placedAt', 'desc']],
      limit: 5,
    };
    const expected = all
      .filter((o) => o.customerId === 'c-3' && o.placedAt >= '2026-01-10')
      .sort((a, b) => (a.placedAt === b.placedAt ? (a.id < b.id ? 1 : -1) : a.placedAt < b.placedAt ? 1 : -1))
      .slice(0, 5)
      .map(({ id: _id, ...order }) => order);
    expect(expected).toHaveLength(5);
    expect(await readModels.read(p, (view) => view.collection(orders).find(query))).toEqual(expected);
    const plan = planOf(readModels, query);
    expect(plan).toContain('USING INDEX store-test@1/customer-orders/byCustomer');
    expect(plan).not.toContain('TEMP B-TREE');
  });

  it('keeps a transaction larger than its document buffer whole', async () => {
    const { readModels } = open();
    const total = 25_000;
    const seen = await readModels.transaction(async (tx) => {
      const docs = tx.handle(p).collection<{ n: number }>('docs');
      for (let i = 0; i < total; i++) await docs.upsert(`d${i}`, { n: i });
      await docs.update('d0', (d) => ({ n: d.n - 1 }));
      return [(await docs.get('d0'))?.n, (await docs.get(`d${total - 1}`))?.n, await docs.count()];
    });
    expect(seen).toEqual([-1, total - 1, total]);
    expect(await readModels.read(p, async (v) => [await v.collection<{ n: number }>('docs').count(), await v.collection<{ n: number }>('docs').get('d0')])).toEqual([
      total,
      { n: -1 },
    ]);
    await expect(
      readModels.transaction(async (tx) => {
        const docs = tx.handle(p).collection<{ n: number }>('docs');
        for (let i = 0; i < total; i++) await docs.upsert(`d${i}`, { n: 0 });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await readModels.read(p, (v) => v.collection<{ n: number }>('docs').get('d5'))).toEqual({ n: 5 });
  });

  it('forgets documents of a namespace dropped in the same transaction', async () => {
    const { readModels } = open();
    await readModels.transaction((tx) => tx.handle(p).collection('docs').upsert('kept', { v: 1 }));
    await readModels.transaction(async (tx) => {
      const docs = tx.handle(p).collection<{ v: number }>('docs');
      await docs.upsert('pending', { v: 2 });
      expect(await docs.get('kept')).toEqual({ v: 1 });
      await tx.dropNamespace(p.namespace);
      expect(await docs.get('pending')).toBeNull();
      expect(await docs.get('kept')).toBeNull();
      await docs.upsert('after', { v: 3 });
    });
    expect(await readModels.read(p, (v) => v.collection('docs').find())).toEqual([{ v: 3 }]);
  });

  it('reads without waiting for another connection that holds the write lock', async () => {
    const { readModels, filename } = open();
    await readModels.transaction((tx) => tx.createState(p));
    const other = open(filename).readModels;
    other.database.exec('BEGIN IMMEDIATE');
    try {
      const started = performance.now();
      expect((await readModels.transaction((tx) => tx.getState(p.namespace), { readOnly: true }))?.checkpoint).toBeNull();
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      other.database.exec('ROLLBACK');
    }
  });

  it('drops the tables and indexes a projection version made, and only those', async () => {
    const { readModels } = open();
    const v2 = projectionNamespace('store-test', 2);
    const docs = defineCollection<{ at: string }>('docs', { indexes: { byAt: ['at'] } });
    await readModels.transaction(async (tx) => {
      for (const projection of [p, v2]) {
        const handle = tx.handle(projection);
        handle.db.exec(`CREATE TABLE ${handle.table('rows')} (id INTEGER PRIMARY KEY)`);
        handle.db.exec(`CREATE INDEX ${handle.table('rows_by_id')} ON ${handle.table('rows')} (id)`);
        await tx.prepareCollections(projection, [docs]);
      }
    });
    const tables = (): string[] =>
      readModels.database
        .prepare<[], string>(`SELECT name FROM sqlite_master WHERE name LIKE 'store-test@%' ORDER BY name`)
        .pluck()
        .all();
    expect(tables()).toEqual([
      'store-test@1/docs/byAt',
      'store-test@1/rows',
      'store-test@1/rows_by_id',
      'store-test@2/docs/byAt',
      'store-test@2/rows',
      'store-test@2/rows_by_id',
    ]);
    await readModels.transaction((tx) => tx.dropNamespace(p.namespace));
    expect(tables()).toEqual(['store-test@2/docs/byAt', 'store-test@2/rows', 'store-test@2/rows_by_id']);
    await expect(readModels.transaction((tx) => tx.handle(p).table('bad name'))).rejects.toThrow(InvalidArgumentError);
  });

  it('refuses a file whose read models come from newer code, changing nothing', () => {
    const { readModels, filename } = open();
    readModels.database.prepare(`INSERT INTO read_model_migrations (version, name, applied_at) VALUES (99, 'future', 'x')`).run();
    expect(() => openSqliteReadModels({ filename })).toThrow(StoreUnavailableError);
    expect(() => openSqliteReadModels({ filename })).toThrow(/schema version 99, newer than the 1/);
  });

  it('refuses bad options, and use after close', async () => {
    expect(() => openSqliteReadModels(null as never)).toThrow(InvalidArgumentError);
    expect(() => openSqliteReadModels({ database: {} as never })).toThrow(/better-sqlite3 connection/);
    const { readModels } = open();
    await readModels.close();
    await expect(readModels.transaction(() => 1)).rejects.toThrow(/closed/);
  });
});

/** EXPLAIN QUERY PLAN of the SQL `find` runs for `query` on customer-orders (built by the store's own query-sql.ts). */
function planOf<T extends object>(readModels: SqliteReadModelStore, query: FindQuery<T>): string {
  const normalized = normalizeQuery('customer-orders', query, 'find');
  const { sql, params } = querySql('find', p.namespace, 'customer-orders', normalized, normalized.limit);
  const rows = readModels.database.prepare<SqlParam[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...params);
  return rows.map((row) => row.detail).join('\n');
}
