/**
 * Writes by handlers can land only inside the transaction they were given: a handler that returns
 * a promise fails its append or batch with a typed error, and whatever it writes after an `await`
 * throws TransactionClosedError and changes nothing. A handler that calls the store itself fails
 * only its own append.
 */
import {
  collect,
  defineProjection,
  InvalidArgumentError,
  ProjectionRunner,
  TransactionClosedError,
  type RecordedEvent,
} from '@eventloom/core';
import type { Statement } from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addInlineProjection,
  openSqliteEventStore,
  openSqliteReadModels,
  type SqliteDatabase,
  type SqliteEventStore,
  type SqliteProjectionHandle,
} from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

let file: TempFile;
let store: SqliteEventStore;
afterEach(async () => {
  await store?.close();
  file?.remove();
});

function open(): SqliteEventStore {
  file = tempFile();
  store = openSqliteEventStore({ filename: file.filename, durability: 'normal' });
  store.database.exec('CREATE TABLE handler_rows (note TEXT NOT NULL)');
  return store;
}

const rows = (): number => store.database.prepare('SELECT count(*) FROM handler_rows').pluck().get() as number;

/** Resolves after every microtask and timer queued so far has run, so late writes have had their chance. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('inline handler writes', () => {
  it('an inline handler that awaits and then writes: the append is rejected and no row is written', async () => {
    open();
    let late: unknown = 'not reached';
    store.addInlineHandler((async (_events: readonly RecordedEvent[], db: SqliteDatabase) => {
      await Promise.resolve();
      try {
        db.prepare("INSERT INTO handler_rows VALUES ('after await')").run();
        late = 'written';
      } catch (error) {
        late = error;
      }
    }) as unknown as (events: readonly RecordedEvent[], db: SqliteDatabase) => void);
    const appended = store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    await expect(appended).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(appended).rejects.toThrow(/synchronous/);
    await settle();
    expect(late).toBeInstanceOf(TransactionClosedError);
    expect((late as TransactionClosedError).code).toBe('TRANSACTION_CLOSED');
    expect(rows()).toBe(0);
    expect(await collect(store.readAll())).toEqual([]);
  });

  it('a statement prepared inside the handler and kept for later cannot write after the transaction', async () => {
    open();
    let kept: { run: () => unknown } | undefined;
    store.addInlineHandler((_events, db) => {
      kept = db.prepare("INSERT INTO handler_rows VALUES ('kept')");
      kept.run();
    });
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    expect(rows()).toBe(1);
    expect(() => kept!.run()).toThrow(TransactionClosedError);
    expect(rows()).toBe(1);
  });

  it('an inline handler that calls setStreamMetadata fails only its own append, saying why', async () => {
    open();
    store.addInlineHandler((events, db) => {
      db.prepare("INSERT INTO handler_rows VALUES ('ok')").run();
      if (events[0]!.streamId === 'order-2') void store.setStreamMetadata('order-2', { maxCount: 5 }).catch(() => undefined);
    });
    const results = await Promise.allSettled([
      store.appendToStream('order-1', [{ type: 'Placed', data: {} }]),
      store.appendToStream('order-2', [{ type: 'Placed', data: {} }]),
      store.appendToStream('order-3', [{ type: 'Placed', data: {} }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (results[1] as PromiseRejectedResult).reason as InvalidArgumentError;
    expect(reason).toBeInstanceOf(InvalidArgumentError);
    expect(reason.message).toMatch(/setStreamMetadata/);
    expect(reason.message).toMatch(/inline handler/);
    expect(rows()).toBe(2);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1', 'order-3']);
    expect((await store.streamInfo('order-2')).metadata).toEqual({});
  });
  for (const [call, write] of [
    ['appendToStream', (s: SqliteEventStore) => s.appendToStream('elsewhere', [{ type: 'Noted', data: {} }])],
    ['deleteStream', (s: SqliteEventStore) => s.deleteStream('order-1')],
    ['checkpoints.store', (s: SqliteEventStore) => s.checkpoints.store('sub', 1n)],
    ['snapshots.save', (s: SqliteEventStore) => s.snapshots.save({ streamId: 'order-2', version: 1n, schemaVersion: 1, state: {}, time: new Date().toISOString() })],
  ] as const) {
    it(`an inline handler that calls ${call} fails its append, even when it catches the refusal`, async () => {
      open();
      store.addInlineHandler((events) => {
        if (events[0]!.streamId === 'order-2') void write(store).catch(() => undefined);
      });
      const results = await Promise.allSettled([
        store.appendToStream('order-1', [{ type: 'Placed', data: {} }]),
        store.appendToStream('order-2', [{ type: 'Placed', data: {} }]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
      expect(((results[1] as PromiseRejectedResult).reason as Error).message).toContain(call);
      await settle();
      expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1']);
      expect(await store.checkpoints.load('sub')).toBeNull();
      expect(await store.snapshots.load('order-2')).toBeNull();
    });
  }
});

describe('projection handler writes (ProjectionRunner on the SQLite read-model store)', () => {
  it('SQL after an await writes no row on any attempt, and the projection fails visibly', async () => {
    open();
    const readModels = openSqliteReadModels({ database: store.database });
    const lateErrors: unknown[] = [];
    let attempts = 0;
    const projection = defineProjection<{ type: 'Placed'; data: Record<string, never> }, SqliteProjectionHandle>({
      name: 'late-writer',
      version: 1,
      init: (read) => void read.db.exec(`CREATE TABLE ${read.table('rows')} (note TEXT NOT NULL)`),
      handlers: {
        Placed: async (_event, read) => {
          attempts++;
          await Promise.resolve();
          try {
            read.db.prepare(`INSERT INTO ${read.table('rows')} VALUES ('after await')`).run();
          } catch (error) {
            lateErrors.push(error);
          }
        },
      },
      failurePolicy: { maxAttempts: 3, retryDelayMs: 1, maxRetryDelayMs: 1 },
    });
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [projection], pollIntervalMs: 10 });
    await runner.start();
    try {
      await expect.poll(() => runner.status('late-writer').status, { timeout: 10_000 }).toBe('failed');
    } finally {
      await runner.stop();
    }
    await settle();
    const state = runner.status('late-writer');
    expect(state!.checkpoint).toBeNull();
    expect(state!.failure?.error).toMatch(/promise/);
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(lateErrors).toHaveLength(attempts);
    expect(lateErrors.every((error) => error instanceof TransactionClosedError)).toBe(true);
    const table = '"late-writer@1/rows"';
    expect(store.database.prepare(`SELECT count(*) FROM ${table}`).pluck().get()).toBe(0);
  });

  it('a statement prepared in one batch serves the later batches of the same projection, and nothing outside them', async () => {
    open();
    const readModels = openSqliteReadModels({ database: store.database });
    let insert: Statement<[number]> | undefined;
    const projection = defineProjection<{ type: 'Placed'; data: { n: number } }, SqliteProjectionHandle>({
      name: 'kept-statement',
      version: 1,
      batchSize: 1,
      init: (read) => void read.db.exec(`CREATE TABLE ${read.table('rows')} (n INTEGER NOT NULL)`),
      handlers: {
        Placed: (event, read) => {
          const statement = (insert ??= read.db.prepare<[number]>(`INSERT INTO ${read.table('rows')} VALUES (?)`));
          statement.run(event.data.n);
        },
      },
    });
    for (let n = 1; n <= 3; n++) await store.appendToStream(`order-${n}`, [{ type: 'Placed', data: { n } }]);
    const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [projection], pollIntervalMs: 10 });
    await runner.start();
    await runner.waitForPosition('kept-statement', 3n, 10_000);
    await runner.stop();
    const count = () => store.database.prepare('SELECT count(*) FROM "kept-statement@1/rows"').pluck().get();
    expect(count()).toBe(3);
    expect(() => insert!.run(99)).toThrow(TransactionClosedError);
    expect(count()).toBe(3);
  });

  it('an inline projection whose handler awaits then writes: append rejected, no row', async () => {
    open();
    const readModels = openSqliteReadModels({ database: store.database });
    const lateErrors: unknown[] = [];
    const projection = defineProjection<{ type: 'Placed'; data: Record<string, never> }, SqliteProjectionHandle>({
      name: 'late-inline',
      version: 1,
      init: (read) => void read.db.exec(`CREATE TABLE ${read.table('rows')} (note TEXT NOT NULL)`),
      handlers: {
        Placed: async (_event, read) => {
          await Promise.resolve();
          try {
            read.db.prepare(`INSERT INTO ${read.table('rows')} VALUES ('after await')`).run();
          } catch (error) {
            lateErrors.push(error);
          }
        },
      },
    });
    addInlineProjection({ eventStore: store, readModels, projection });
    await expect(store.appendToStream('order-1', [{ type: 'Placed', data: {} }])).rejects.toBeInstanceOf(InvalidArgumentError);
    await settle();
    expect(lateErrors).toHaveLength(1);
    expect(lateErrors[0]).toBeInstanceOf(TransactionClosedError);
    expect(store.database.prepare('SELECT count(*) FROM "late-inline@1/rows"').pluck().get()).toBe(0);
    expect(await collect(store.readAll())).toEqual([]);
  });
});
