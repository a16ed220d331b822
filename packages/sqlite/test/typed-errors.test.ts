/** Bad arguments of SQLite-only APIs: typed errors naming the argument, even for values JSON cannot write. */
import { defineProjection, InvalidArgumentError, ProjectionRunner } from '@eventloom/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS, openSqliteEventStore, openSqliteReadModels, type Durability, type SqliteProjectionHandle } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

let file: TempFile;
afterEach(() => file?.remove());

describe('typed errors on SQLite-only arguments', () => {
  it('a BigInt category, durability or table name gets InvalidArgumentError, not TypeError', async () => {
    file = tempFile();
    expect(() => openSqliteEventStore({ filename: file.filename, durability: 1n as unknown as Durability })).toThrow(InvalidArgumentError);
    const store = openSqliteEventStore({ filename: file.filename });
    try {
      expect(() => store.readCategory(1n as unknown as string)).toThrow(InvalidArgumentError);
      const readModels = openSqliteReadModels({ database: store.database });
      await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
      const errors: unknown[] = [];
      const projection = defineProjection<{ type: 'Placed'; data: Record<string, never> }, SqliteProjectionHandle>({
        name: 'bad-table',
        version: 1,
        handlers: {
          Placed: (_event, read) => {
            try {
              read.table(1n as unknown as string);
            } catch (error) {
              errors.push(error);
            }
          },
        },
      });
      const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [projection], pollIntervalMs: 10 });
      await runner.start();
      await runner.waitForPosition('bad-table', 1n, 10_000);
      await runner.stop();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(InvalidArgumentError);
    } finally {
      await store.close();
    }
  });

  it('migrations out of order get InvalidArgumentError', () => {
    file = tempFile();
    const db = new Database(file.filename);
    try {
      expect(() => migrate(db, [{ ...MIGRATIONS[0]!, version: 2 }])).toThrow(InvalidArgumentError);
    } finally {
      db.close();
    }
  });
});
