/** Bad input gets its typed error, and the file — every row of every table — is unchanged afterwards. */
import {
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidEventError,
  SchemaRegistry,
  StreamDeletedError,
  uuidv7,
  WrongExpectedVersionError,
  type EventToAppend,
} from '@eventloom/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { dumpTables } from './dump.js';
import { tempFile, type TempFile } from './temp-file.js';

const OrderPlaced = z.object({ orderId: z.string(), total: z.number().positive() });

const circular: Record<string, unknown> = { name: 'loop' };
circular.self = circular;

const takenId = uuidv7();

const cases: { name: string; error: new (...args: never[]) => Error; field?: string; attempt: (store: SqliteEventStore) => Promise<unknown> }[] = [
  {
    name: 'an event without a type',
    error: InvalidEventError,
    field: 'events[0].type',
    attempt: (s) => s.appendToStream('order-1', [{ data: {} } as unknown as EventToAppend]),
  },
  { name: 'an empty stream id', error: InvalidArgumentError, attempt: (s) => s.appendToStream('', [{ type: 'X', data: {} }]) },
  {
    name: 'a 300-character stream id',
    error: InvalidArgumentError,
    attempt: (s) => s.appendToStream(`order-${'x'.repeat(294)}`, [{ type: 'X', data: {} }]),
  },
  {
    name: 'BigInt data',
    error: InvalidEventError,
    field: 'events[1].data.total',
    attempt: (s) => s.appendToStream('order-1', [{ type: 'X', data: {} }, { type: 'X', data: { total: 10n } }]),
  },
  {
    name: 'circular data',
    error: InvalidEventError,
    field: 'events[0].data.self',
    attempt: (s) => s.appendToStream('order-1', [{ type: 'X', data: circular }]),
  },
  {
    name: 'data the zod schema rejects',
    error: InvalidEventError,
    field: 'events[0].data.total',
    attempt: (s) => s.appendToStream('order-1', [{ type: 'OrderPlaced', data: { orderId: 'o-2', total: -5 } }]),
  },
  {
    name: 'a wrong expected version',
    error: WrongExpectedVersionError,
    attempt: (s) => s.appendToStream('order-1', [{ type: 'X', data: {} }], { expectedVersion: 7n }),
  },
  {
    name: 'an append to a tombstoned stream',
    error: StreamDeletedError,
    attempt: (s) => s.appendToStream('order-dead', [{ type: 'X', data: {} }]),
  },
  {
    name: 'an event id already used in another stream',
    error: DuplicateEventIdError,
    attempt: (s) => s.appendToStream('order-2', [{ type: 'X', data: {} }, { id: takenId, type: 'X', data: {} }]),
  },
  {
    name: 'nonsense stream metadata',
    error: InvalidArgumentError,
    attempt: (s) => s.setStreamMetadata('order-1', { maxCount: 0 }),
  },
  {
    name: 'a delete with a wrong expected version',
    error: WrongExpectedVersionError,
    attempt: (s) => s.deleteStream('order-1', { expectedVersion: 1n }),
  },
  {
    name: 'a snapshot whose state is not JSON',
    error: InvalidArgumentError,
    attempt: (s) => s.snapshots.save({ streamId: 'order-1', version: 2n, schemaVersion: 1, state: { at: new Date() }, time: new Date().toISOString() }),
  },
  {
    name: 'a checkpoint at a negative position',
    error: InvalidArgumentError,
    attempt: (s) => s.checkpoints.store('projection-1', -1n),
  },
];

describe('bad input changes nothing in the file', () => {
  let file: TempFile;
  let store: SqliteEventStore;

  beforeEach(async () => {
    file = tempFile();
    store = openSqliteEventStore({
      filename: file.filename,
      schemas: new SchemaRegistry().register('OrderPlaced', 1, OrderPlaced),
    });
    await store.appendToStream('order-1', [
      { type: 'OrderPlaced', data: { orderId: 'o-1', total: 10 } },
      { id: takenId, type: 'X', data: {} },
    ]);
    await store.appendToStream('order-dead', [{ type: 'X', data: {} }]);
    await store.deleteStream('order-dead', { hard: true });
    await store.checkpoints.store('projection-1', 2n);
    await store.snapshots.save({ streamId: 'order-1', version: 2n, schemaVersion: 1, state: { total: 10 }, time: new Date().toISOString() });
  });

  afterEach(async () => {
    await store.close();
    file.remove();
  });

  for (const c of cases) {
    it(`rejects ${c.name} with ${c.error.name}`, async () => {
      const before = dumpTables(store.database);
      const error = await c.attempt(store).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(c.error);
      expect((error as Error).message.length).toBeGreaterThan(20);
      if (c.field) expect((error as InvalidEventError).field).toBe(c.field);
      expect(dumpTables(store.database)).toBe(before);
    });
  }

  it('names the zod issue in the error', async () => {
    const error = await store
      .appendToStream('order-1', [{ type: 'OrderPlaced', data: { orderId: 'o-2', total: -5 } }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).issues).toHaveLength(1);
    expect((error as Error).message).toContain('OrderPlaced v1');
  });
});
