/**
 * Writes by handlers land inside the transaction they were given, before and after their awaits:
 * the append or batch and the handler's rows commit together, or neither does. Only once the
 * handler has settled does its handle refuse SQL (TransactionClosedError, nothing changed). A
 * handler that calls the store itself fails only its own append.
 */
import {
  collect,
  defineProjection,
  InvalidArgumentError,
  ProjectionRunner,
  StoreBusyError,
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
  it('an inline handler that awaits and then writes: the row commits with the append', async () => {
    open();
    store.addInlineHandler(async (_events, db) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      db.prepare("INSERT INTO handler_rows VALUES ('after await')").run();
    });
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    expect(rows()).toBe(1);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1']);
  });

  it('a failure after the await rolls back both the row and the append, and only that append', async () => {
    open();
    store.addInlineHandler(async (events, db) => {
      db.prepare("INSERT INTO handler_rows VALUES ('before await')").run();
      await new Promise((resolve) => setTimeout(resolve, 5));
      db.prepare("INSERT INTO handler_rows VALUES ('after await')").run();
      if (events[0]!.streamId === 'order-2') throw new Error('refused after the await');
    });
    const results = await Promise.allSettled([
      store.appendToStream('order-1', [{ type: 'Placed', data: {} }]),
      store.appendToStream('order-2', [{ type: 'Placed', data: {} }]),
      store.appendToStream('order-3', [{ type: 'Placed', data: {} }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as Error).message).toBe('refused after the await');
    expect(rows()).toBe(4);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1', 'order-3']);
  });

  it('while a handler awaits, other callers neither see its uncommitted writes nor land in its transaction', async () => {
    open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    store.addInlineHandler(async (events, db) => {
      if (events[0]!.streamId !== 'order-1') return;
      db.prepare("INSERT INTO handler_rows VALUES ('uncommitted')").run();
      entered();
      await gate;
      throw new Error('order-1 fails after the others queued');
    });
    const first = store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    await inside;
    // Issued while order-1's transaction is open across the handler's await: they wait for it.
    const read = collect(store.readAll());
    const second = store.appendToStream('order-2', [{ type: 'Placed', data: {} }], { expectedVersion: 'no_stream' });
    let readDone = false;
    void read.then(() => (readDone = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(readDone).toBe(false);
    release();
    await expect(first).rejects.toThrow('order-1 fails after the others queued');
    // Had the append or the read run inside order-1's transaction, they would have seen order-1, or been rolled back with it.
    await second;
    expect((await read).map((e) => e.streamId)).not.toContain('order-1');
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-2']);
    expect(rows()).toBe(0);
  });

  it('a promise the handler left running cannot write after the append committed', async () => {
    open();
    let late: unknown = 'not reached';
    let settled!: () => void;
    const lateDone = new Promise<void>((resolve) => (settled = resolve));
    store.addInlineHandler((_events, db) => {
      void (async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        try {
          db.prepare("INSERT INTO handler_rows VALUES ('after the handler')").run();
          late = 'written';
        } catch (error) {
          late = error;
        }
        settled();
      })();
    });
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    await lateDone;
    expect(late).toBeInstanceOf(TransactionClosedError);
    expect((late as TransactionClosedError).code).toBe('TRANSACTION_CLOSED');
    expect(rows()).toBe(0);
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
  it('SQL after an await commits with the batch and its checkpoint; a failure after the await rolls both back', async () => {
    open();
    const readModels = openSqliteReadModels({ database: store.database });
    const projection = defineProjection<{ type: 'Placed'; data: { fail: boolean } }, SqliteProjectionHandle>({
      name: 'late-writer',
      version: 1,
      init: (read) => void read.db.exec(`CREATE TABLE ${read.table('rows')} (stream TEXT NOT NULL)`),
      handlers: {
        Placed: async (event, read) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          read.db.prepare(`INSERT INTO ${read.table('rows')} VALUES (?)`).run(event.streamId);
          await new Promise((resolve) => setTimeout(resolve, 2));
          if (event.data.fail) throw new Error(`refused ${event.streamId} after the await`);
        },
      },
      failurePolicy: { maxAttempts: 2, retryDelayMs: 1, maxRetryDelayMs: 1 },
    });
    await store.appendToStream('order-1', [{ type: 'Placed', data: { fail: false } }]);
    const good = await store.appendToStream('order-2', [{ type: 'Placed', data: { fail: false } }]);
    await store.appendToStream('order-3', [{ type: 'Placed', data: { fail: true } }]);
    const runner = new ProjectionRunner({ eventStore: store, readModels, projections: [projection], pollIntervalMs: 10, batchSize: 1 });
    await runner.start();
    try {
      await expect.poll(() => runner.status('late-writer').status, { timeout: 10_000 }).toBe('failed');
    } finally {
      await runner.stop();
    }
    const state = runner.status('late-writer');
    expect(state.checkpoint).toBe(good.position);
    expect(state.failure?.error).toMatch(/refused order-3 after the await/);
    const written = store.database.prepare('SELECT stream FROM "late-writer@1/rows" ORDER BY stream').pluck().all();
    expect(written).toEqual(['order-1', 'order-2']);
  });

  it('inside a read-model transaction on the connection, reads pass through and the store\'s writes are refused (they would wait for it)', async () => {
    open();
    const readModels = openSqliteReadModels({ database: store.database });
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    const outcome = await readModels.transaction(async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      // The event store's reads run inside this transaction instead of waiting for it to end.
      const read = (await collect(store.readStream('order-1'))).length;
      const append = await store.appendToStream('order-2', [{ type: 'Placed', data: {} }]).catch((error: unknown) => error);
      return { read, append };
    });
    expect(outcome.read).toBe(1);
    expect(outcome.append).toBeInstanceOf(InvalidArgumentError);
    expect((outcome.append as Error).message).toMatch(/appendToStream/);
    // Outside it, the same call goes through.
    await store.appendToStream('order-2', [{ type: 'Placed', data: {} }]);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1', 'order-2']);
  });

  it('a transaction awaiting an append that waits for it ends with STORE_BUSY after busyTimeoutMs instead of hanging', async () => {
    file = tempFile();
    store = openSqliteEventStore({ filename: file.filename, durability: 'normal', busyTimeoutMs: 300 });
    const readModels = openSqliteReadModels({ database: store.database });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    let append: Promise<unknown> | undefined;
    const transaction = readModels.transaction(async () => {
      entered();
      await new Promise((resolve) => setTimeout(resolve, 5));
      // Another request's append, queued behind this very transaction.
      return append!.then(
        () => 'appended',
        (error: unknown) => error,
      );
    });
    await inside;
    append = store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    const outcome = await transaction;
    expect(outcome).toBeInstanceOf(StoreBusyError);
    expect((outcome as StoreBusyError).code).toBe('STORE_BUSY');
    expect(await collect(store.readAll())).toEqual([]);
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1']);
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

  it('an inline projection whose handler awaits then writes: the row commits with the append, or neither does', async () => {
    open();
    const readModels = openSqliteReadModels({ database: store.database });
    const projection = defineProjection<{ type: 'Placed'; data: { fail: boolean } }, SqliteProjectionHandle>({
      name: 'late-inline',
      version: 1,
      init: (read) => void read.db.exec(`CREATE TABLE ${read.table('rows')} (stream TEXT NOT NULL)`),
      handlers: {
        Placed: async (event, read) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          read.db.prepare(`INSERT INTO ${read.table('rows')} VALUES (?)`).run(event.streamId);
          await read.collection('docs').upsert(event.streamId, { at: event.position.toString() });
          await new Promise((resolve) => setTimeout(resolve, 2));
          if (event.data.fail) throw new Error(`refused ${event.streamId} after the await`);
        },
      },
    });
    addInlineProjection({ eventStore: store, readModels, projection });
    const results = await Promise.allSettled([
      store.appendToStream('order-1', [{ type: 'Placed', data: { fail: false } }]),
      store.appendToStream('order-2', [{ type: 'Placed', data: { fail: true } }]),
      store.appendToStream('order-3', [{ type: 'Placed', data: { fail: false } }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as Error).message).toBe('refused order-2 after the await');
    expect(store.database.prepare('SELECT stream FROM "late-inline@1/rows" ORDER BY stream').pluck().all()).toEqual(['order-1', 'order-3']);
    expect((await readModels.read('late-inline', (view) => view.collection('docs').find())).length).toBe(2);
    expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['order-1', 'order-3']);
    const last = (results[2] as PromiseFulfilledResult<{ position: bigint }>).value.position;
    expect(await readModels.transaction((tx) => tx.getCheckpoint('late-inline@1'), { readOnly: true })).toBe(last);
  });
});
