/**
 * Damaged files: every public path fails with StoreCorruptError naming the file and what to do,
 * never a raw SqliteError; and a file this code must refuse is refused before anything in it changes.
 */
import { existsSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import { collect, isEventloomError, StoreCorruptError, StoreUnavailableError } from '@eventloom/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { tempFile, type TempFile } from './temp-file.js';

let file: TempFile;
let store: SqliteEventStore | undefined;
afterEach(async () => {
  await store?.close().catch(() => undefined);
  store = undefined;
  file?.remove();
});

/** A closed store file of a few hundred pages: 3,000 events over 30 streams. */
async function filledFile(): Promise<string> {
  file = tempFile();
  const writer = openSqliteEventStore({ filename: file.filename, durability: 'off' });
  for (let batch = 0; batch < 30; batch++) {
    const events = Array.from({ length: 100 }, (_, i) => ({ type: 'Noted', data: { batch, i, text: 'x'.repeat(200) } }));
    await writer.appendToStream(`note-${batch}`, events);
  }
  await writer.close();
  expect(existsSync(`${file.filename}-wal`)).toBe(false);
  return file.filename;
}

/** Overwrites `count` pages starting at `fromPage` (0-based) with a repeating garbage pattern. */
function overwritePages(filename: string, fromPage: number, count: number): void {
  const pageSize = 4096;
  const fd = openSync(filename, 'r+');
  try {
    const garbage = Buffer.alloc(pageSize * count, 0xa5);
    writeSync(fd, garbage, 0, garbage.length, fromPage * pageSize);
  } finally {
    closeSync(fd);
  }
}

/** What a public call ends with: 'ok', or the error it threw. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return error;
  }
}

function expectTypedCorruption(result: unknown, filename: string): void {
  if (result === 'ok') return;
  expect(isEventloomError(result), `untyped: ${String(result)}`).toBe(true);
  expect(result).toBeInstanceOf(StoreCorruptError);
  const message = (result as Error).message;
  expect(message).toContain(filename);
  expect(message).toMatch(/backup/);
}

describe('a damaged file', () => {
  for (const where of ['middle', 'end'] as const) {
    it(`with pages overwritten at the ${where}: every path throws StoreCorruptError`, { timeout: 60_000 }, async () => {
      const filename = await filledFile();
      const pages = statSync(filename).size / 4096;
      if (where === 'middle') overwritePages(filename, Math.floor(pages / 2) - 5, 10);
      else overwritePages(filename, pages - 10, 10);

      store = openSqliteEventStore({ filename });
      const opened = store;
      const results = {
        readAll: await outcome(() => collect(opened.readAll())),
        readStream: await outcome(async () => {
          for (let batch = 0; batch < 30; batch++) await collect(opened.readStream(`note-${batch}`));
        }),
        headPosition: await outcome(() => opened.headPosition()),
        streamInfo: await outcome(async () => {
          for (let batch = 0; batch < 30; batch++) await opened.streamInfo(`note-${batch}`);
        }),
        subscribe: await outcome(async () => {
          const subscription = opened.subscribe({ handler: () => undefined });
          await Promise.race([subscription.done, subscription.waitFor(3_000n, 5_000)]);
          await subscription.stop();
          await subscription.done;
        }),
        append: await outcome(async () => {
          for (let batch = 0; batch < 30; batch++) await opened.appendToStream(`note-${batch}`, [{ type: 'Noted', data: { more: true } }]);
        }),
      };
      for (const [path, result] of Object.entries(results)) {
        const cause = result instanceof Error && !(result instanceof StoreCorruptError) && result.cause instanceof StoreCorruptError ? result.cause : result;
        expectTypedCorruption(cause, filename);
        void path;
      }
      // The paths that reach the damaged pages (measured: all but streamInfo; headPosition only when the end is hit).
      const reached: (keyof typeof results)[] = ['readAll', 'readStream', 'subscribe', 'append', ...(where === 'end' ? (['headPosition'] as const) : [])];
      for (const path of reached) {
        const result = results[path];
        const error = result instanceof StoreCorruptError ? result : (result as Error).cause;
        expect(error, path).toBeInstanceOf(StoreCorruptError);
      }
    });
  }
});

describe('stored text that does not parse', () => {
  it('events, stream metadata and snapshots: StoreCorruptError, not SyntaxError', async () => {
    file = tempFile();
    store = openSqliteEventStore({ filename: file.filename });
    await store.appendToStream('order-1', [{ type: 'Placed', data: { n: 1 } }]);
    await store.setStreamMetadata('order-2', { maxCount: 3 });
    await store.snapshots.save({ streamId: 'order-1', version: 1n, schemaVersion: 1, state: { n: 1 }, time: new Date().toISOString() });
    store.database.exec(`UPDATE events SET data = '{broken'; UPDATE streams SET metadata = '{broken' WHERE stream_id = 'order-2';
      UPDATE snapshots SET state = '{broken'`);
    const opened = store;
    for (const call of [
      () => collect(opened.readAll()),
      () => collect(opened.readStream('order-1')),
      () => collect(opened.readStream('order-2')),
      () => opened.streamInfo('order-2'),
      () => opened.snapshots.load('order-1'),
    ]) {
      expectTypedCorruption(await outcome(call), file.filename);
      expect(await outcome(call)).toBeInstanceOf(StoreCorruptError);
    }
  });
});

describe('stored text that does not parse, in reads with fields', () => {
  it('what the fields decode throws StoreCorruptError (data, envelope parts); what they leave out is not read', async () => {
    file = tempFile();
    store = openSqliteEventStore({ filename: file.filename });
    await store.appendToStream('order-1', [{ type: 'Placed', data: { n: 1 }, metadata: { tenantId: 't' } }]);
    store.database.exec(`UPDATE events SET data = '{broken', envelope = '[1, {broken'`);
    const opened = store;
    for (const fields of [['data'], ['metadata'], ['correlationId'], ['schemaVersion', 'type']] as const) {
      for (const call of [() => collect(opened.readAll({ fields })), () => collect(opened.readStream('order-1', { fields }))]) {
        expectTypedCorruption(await outcome(call), file.filename);
      }
    }
    expect(await collect(opened.readAll({ fields: ['type', 'position'] }))).toEqual([{ type: 'Placed', position: 1n }]);
    expect(await collect(opened.readStream('order-1', { fields: ['streamVersion', 'time', 'id'] }))).toHaveLength(1);
  });
});

describe('a file written by newer code', () => {
  it('in rollback-journal mode: refused before anything is changed, the journal mode included', async () => {
    file = tempFile();
    const setup = openSqliteEventStore({ filename: file.filename });
    await setup.appendToStream('order-1', [{ type: 'Placed', data: {} }]);
    await setup.close();
    const raw = new Database(file.filename);
    raw.pragma('journal_mode = DELETE');
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(999, 'from the future', '2030-01-01T00:00:00.000Z');
    raw.close();
    const before = readFileSync(file.filename);

    const error = (() => {
      try {
        openSqliteEventStore({ filename: file.filename });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/999.*nothing was changed/);
    expect(readFileSync(file.filename).equals(before)).toBe(true);
    expect(existsSync(`${file.filename}-wal`)).toBe(false);
    const check = new Database(file.filename, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });
});
