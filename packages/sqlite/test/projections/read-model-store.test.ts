/** SQLite read-model store specifics: the unit of work of a transaction, locking, schema versions, own tables. */
import { InvalidArgumentError, projectionNamespace, StoreUnavailableError } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteReadModels, type SqliteReadModelStore } from '../../src/index.js';
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

describe('SqliteReadModelStore', () => {
  it('keeps a transaction larger than its document buffer whole', async () => {
    const { readModels } = open();
    const total = 25_000;
    const seen = readModels.transactionSync((tx) => {
      const docs = tx.handle(p).collection<{ n: number }>('docs');
      for (let i = 0; i < total; i++) docs.upsert(`d${i}`, { n: i });
      docs.update('d0', (d) => ({ n: d.n - 1 }));
      return [docs.get('d0')?.n, docs.get(`d${total - 1}`)?.n, docs.count()];
    });
    expect(seen).toEqual([-1, total - 1, total]);
    expect(readModels.readSync(p, (v) => [v.collection<{ n: number }>('docs').count(), v.collection<{ n: number }>('docs').get('d0')])).toEqual([
      total,
      { n: -1 },
    ]);
    await expect(
      readModels.transaction((tx) => {
        const docs = tx.handle(p).collection<{ n: number }>('docs');
        for (let i = 0; i < total; i++) docs.upsert(`d${i}`, { n: 0 });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(readModels.readSync(p, (v) => v.collection<{ n: number }>('docs').get('d5'))).toEqual({ n: 5 });
  });

  it('forgets documents of a namespace dropped in the same transaction', () => {
    const { readModels } = open();
    readModels.transactionSync((tx) => tx.handle(p).collection('docs').upsert('kept', { v: 1 }));
    readModels.transactionSync((tx) => {
      const docs = tx.handle(p).collection<{ v: number }>('docs');
      docs.upsert('pending', { v: 2 });
      expect(docs.get('kept')).toEqual({ v: 1 });
      tx.dropNamespace(p.namespace);
      expect(docs.get('pending')).toBeNull();
      expect(docs.get('kept')).toBeNull();
      docs.upsert('after', { v: 3 });
    });
    expect(readModels.readSync(p, (v) => v.collection('docs').find())).toEqual([{ v: 3 }]);
  });

  it('reads without waiting for another connection that holds the write lock', () => {
    const { readModels, filename } = open();
    readModels.transactionSync((tx) => tx.createState(p));
    const other = open(filename).readModels;
    other.database.exec('BEGIN IMMEDIATE');
    try {
      const started = performance.now();
      expect(readModels.transactionSync((tx) => tx.getState(p.namespace), { readOnly: true })?.checkpoint).toBeNull();
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      other.database.exec('ROLLBACK');
    }
  });

  it('drops the tables a projection version made, and only those', () => {
    const { readModels } = open();
    const v2 = projectionNamespace('store-test', 2);
    readModels.transactionSync((tx) => {
      for (const projection of [p, v2]) {
        const handle = tx.handle(projection);
        handle.db.exec(`CREATE TABLE ${handle.table('rows')} (id INTEGER PRIMARY KEY)`);
        handle.db.exec(`CREATE INDEX ${handle.table('rows_by_id')} ON ${handle.table('rows')} (id)`);
      }
    });
    const tables = (): string[] =>
      readModels.database
        .prepare<[], string>(`SELECT name FROM sqlite_master WHERE name LIKE 'store-test@%' ORDER BY name`)
        .pluck()
        .all();
    expect(tables()).toEqual(['store-test@1/rows', 'store-test@1/rows_by_id', 'store-test@2/rows', 'store-test@2/rows_by_id']);
    readModels.transactionSync((tx) => tx.dropNamespace(p.namespace));
    expect(tables()).toEqual(['store-test@2/rows', 'store-test@2/rows_by_id']);
    expect(() => readModels.transactionSync((tx) => tx.handle(p).table('bad name'))).toThrow(InvalidArgumentError);
  });

  it('refuses a file whose read models come from newer code, changing nothing', () => {
    const { readModels, filename } = open();
    readModels.database.prepare(`INSERT INTO read_model_migrations (version, name, applied_at) VALUES (99, 'future', 'x')`).run();
    expect(() => openSqliteReadModels({ filename })).toThrow(StoreUnavailableError);
    expect(() => openSqliteReadModels({ filename })).toThrow(/schema version 99, newer than the 1/);
  });

  it('refuses bad options and a transaction that returns a promise', async () => {
    expect(() => openSqliteReadModels(null as never)).toThrow(InvalidArgumentError);
    expect(() => openSqliteReadModels({ database: {} as never })).toThrow(/better-sqlite3 connection/);
    const { readModels } = open();
    await expect(readModels.transaction(async (tx) => tx.handle(p).collection('docs').upsert('a', { v: 1 }))).rejects.toThrow(/returned a promise/);
    expect(readModels.readSync(p, (v) => v.collection('docs').count())).toBe(0);
    await readModels.close();
    await expect(readModels.transaction(() => 1)).rejects.toThrow(/closed/);
  });
});
