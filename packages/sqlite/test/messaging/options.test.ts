/**
 * The SQLite transport's options under the rule every storage-backed transport shares
 * (`splitTransportOptions`, `requireOneOf`, `checkPollIntervalMs` in core): a typed error naming the
 * option, the engine's options reaching the engine, the storage's reaching the driver.
 */
import { InvalidArgumentError } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore, openSqliteTransport, type SqliteTransportOptions } from '../../src/index.js';
import { tempFile, type TempFile } from '../temp-file.js';

describe('SQLite transport options', () => {
  const files: TempFile[] = [];
  afterEach(() => {
    for (const file of files.splice(0)) file.remove();
  });
  const filename = (): string => {
    const file = tempFile();
    files.push(file);
    return file.filename;
  };
  const refused = (options: unknown): InvalidArgumentError => {
    try {
      openSqliteTransport(options as SqliteTransportOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidArgumentError);
      return error as InvalidArgumentError;
    }
    throw new Error('accepted');
  };

  it('refuses what does not say where the queues are, naming the option', () => {
    expect(refused(null)).toMatchObject({ argument: 'options', reason: expect.stringContaining("{ store } or { filename: 'app.db' }, got null") });
    expect(refused({})).toMatchObject({ argument: 'options', reason: expect.stringContaining('names neither store nor filename') });
    const store = openSqliteEventStore({ filename: filename() });
    try {
      expect(refused({ store, filename: filename() })).toMatchObject({ argument: 'options', reason: expect.stringContaining('names both store and filename') });
    } finally {
      store.close();
    }
    expect(refused({ store: 'events.db' })).toMatchObject({ argument: 'store' });
  });

  it('takes a poll interval from 1 ms to an hour', async () => {
    for (const bad of [0, 0.5, -1, 3_600_001, Number.NaN, '100']) {
      expect(refused({ filename: filename(), pollIntervalMs: bad })).toMatchObject({ argument: 'pollIntervalMs' });
    }
    const transport = openSqliteTransport({ filename: filename(), pollIntervalMs: 3_600_000 });
    await transport.close();
  });

  it("hands the engine its options (source, schemas, tracing) and the driver the rest", async () => {
    expect(refused({ filename: filename(), source: '' })).toMatchObject({ argument: 'options.source' });
    const transport = openSqliteTransport({ filename: filename(), source: 'billing', tracing: false, durability: 'normal' });
    try {
      await transport.send('charges', { type: 'ChargeCard', data: { orderId: 'o-1' } });
      const stored = transport.database.prepare('SELECT envelope FROM queue_messages').pluck().get() as string;
      expect(JSON.parse(stored)).toMatchObject({ source: 'billing' });
      // The default is 'full' (2): the storage's option reached the connection.
      expect(transport.database.pragma('synchronous', { simple: true })).toBe(1);
    } finally {
      await transport.close();
    }
  });
});
