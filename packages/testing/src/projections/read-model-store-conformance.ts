/**
 * The conformance suite every `ReadModelStore` runs: the document API, transactions that commit
 * the checkpoint with the documents or nothing at all, bookkeeping, serving versions, leases.
 */
import {
  defineCollection,
  InvalidArgumentError,
  type FindQuery,
  type ProjectionDeadLetter,
  type ProjectionFailure,
  type ProjectionHandle,
  type ReadModelStore,
} from '@eventloom/core';
import { projectionNamespace } from '@eventloom/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { queryCases } from './query-cases.js';
import { waitCases } from './wait-cases.js';

export interface CreatedReadModelStore {
  readonly readModels: ReadModelStore;
  /**
   * Another store on the same data as `readModels` — another connection, as another process
   * would open it — for the cases where a commit on one must wake a waiter on the other.
   * Leave it out where there is no such thing (memory). Closed by the suite.
   */
  readonly peer?: () => Promise<ReadModelStore>;
  /** Releases what `create` made (files, schemas); called after each test. */
  readonly cleanup?: () => Promise<void>;
}

export interface ReadModelStoreConformanceOptions {
  /** Shown in the suite's name, e.g. `sqlite`. */
  readonly name: string;
  /** A fresh, empty store per call. */
  readonly create: () => Promise<CreatedReadModelStore>;
  /** Tests this store skips, by name, each with its reason. */
  readonly skip?: Readonly<Record<string, string>>;
}

interface Doc {
  name: string;
  n: number;
  flag?: boolean;
  tag?: string | null;
  nested?: { a: number[] };
}

type Store = ReadModelStore;
/** Documents of any shape, to hand the stores what JSON cannot hold. */
type Loose = Record<string, unknown>;

/** Runs the store's calls in order. */
async function all(...calls: (() => Promise<unknown>)[]): Promise<void> {
  for (const call of calls) await call();
}

let unique = 0;
function ns(base = 'conf') {
  unique++;
  return projectionNamespace(`${base}-${process.pid}-${unique}`, 1);
}

function failure(position: bigint): ProjectionFailure {
  return {
    position,
    eventId: '0190c3f2-0000-7000-8000-000000000001',
    eventType: 'OrderPaid',
    streamId: 'order-1',
    error: 'Error: boom',
    stack: 'Error: boom\n    at test',
    attempts: 3,
    failedAt: '2025-01-01T00:00:00.000Z',
  };
}

export function runReadModelStoreConformance(options: ReadModelStoreConformanceOptions): void {
  const cleanups: (() => Promise<void>)[] = [];
  const skip = options.skip ?? {};
  const test = (name: string, fn: (context: { skip: () => void }) => Promise<void>): void => {
    const reason = skip[name];
    if (reason) it.skip(`${name} (skipped: ${reason})`, () => fn({ skip: () => undefined }));
    else it(name, (context) => fn({ skip: () => context.skip() }));
  };
  const open = async (withPeer: boolean): Promise<{ readModels: Store; peer: Store | null }> => {
    const created = await options.create();
    if (created.cleanup) cleanups.push(created.cleanup);
    cleanups.push(() => created.readModels.close());
    const peer = withPeer && created.peer ? await created.peer() : null;
    // Closed before the store itself (cleanups run in reverse).
    if (peer) cleanups.push(() => peer.close());
    return { readModels: created.readModels, peer };
  };
  const store = async (): Promise<Store> => (await open(false)).readModels;
  const withPeer = () => open(true);

  describe(`read-model store conformance: ${options.name}`, () => {
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    describe('documents', () => {
      test('upserts, gets fresh copies, updates and deletes', async () => {
        const readModels = await store();
        const p = ns();
        await readModels.transaction(async (tx) => {
          const docs = tx.handle(p).collection<Doc>('docs');
          await docs.upsert('a', { name: 'A', n: 1, nested: { a: [1, 2] } });
          const copy = (await docs.get('a'))!;
          copy.nested!.a.push(3);
          expect(await docs.get('a')).toEqual({ name: 'A', n: 1, nested: { a: [1, 2] } });
          expect(await docs.update('a', (d) => ({ ...d, n: d.n + 1 }))).toBe(true);
          expect(await docs.update('missing', (d) => d)).toBe(false);
          await docs.upsert('b', { name: 'B', n: 5 });
          expect(await docs.delete('b')).toBe(true);
          expect(await docs.delete('b')).toBe(false);
        });
        const read = await readModels.read(p, (view) => Promise.all([view.collection<Doc>('docs').get('a'), view.collection<Doc>('docs').get('b')]));
        expect(read).toEqual([{ name: 'A', n: 2, nested: { a: [1, 2] } }, null]);
      });

      test('finds and counts by field equality, in id order, with a limit', async () => {
        const readModels = await store();
        const p = ns();
        await readModels.transaction((tx) => {
          const docs = tx.handle(p).collection<Doc>('docs');
          return all(
            () => docs.upsert('3', { name: 'x', n: 1, flag: true, tag: 'red' }),
            () => docs.upsert('1', { name: 'x', n: 2, flag: false, tag: null }),
            () => docs.upsert('2', { name: 'y', n: 1, flag: true }),
            () => docs.upsert('4', { name: 'x', n: 1.5 }),
          );
        });
        await readModels.read(p, async (view) => {
          const docs = view.collection<Doc>('docs');
          expect((await docs.find({ where: { name: 'x' } })).map((d) => d.n)).toEqual([2, 1, 1.5]);
          expect(await docs.find({ where: { name: 'x', n: 1 } })).toEqual([{ name: 'x', n: 1, flag: true, tag: 'red' }]);
          expect((await docs.find({ where: { n: 1.5 } })).map((d) => d.name)).toEqual(['x']);
          expect((await docs.find({ where: { flag: true } })).map((d) => d.n)).toEqual([1, 1]);
          expect((await docs.find({ where: { flag: false } })).map((d) => d.n)).toEqual([2]);
          // null matches an explicit null and a missing field alike
          expect((await docs.find({ where: { tag: null } })).map((d) => d.n)).toEqual([2, 1, 1.5]);
          expect((await docs.find({ where: { name: 'x' }, limit: 2 })).map((d) => d.n)).toEqual([2, 1]);
          expect((await docs.find()).length).toBe(4);
          expect(await docs.count()).toBe(4);
          expect(await docs.count({ name: 'x' })).toBe(3);
          expect(await docs.find({ where: { name: 'nobody' } })).toEqual([]);
          // a number never matches a string or a boolean that looks like it
          expect((await docs.find({ where: { tag: 'red', n: 1 } })).length).toBe(1);
          expect(await docs.count({ n: 1, flag: false })).toBe(0);
        });
      });

      test('keeps namespaces and collections apart', async () => {
        const readModels = await store();
        const p1 = ns();
        const p2 = projectionNamespace(p1.name, 2);
        await readModels.transaction((tx) =>
          all(
            () => tx.handle(p1).collection<Doc>('docs').upsert('a', { name: 'v1', n: 1 }),
            () => tx.handle(p2).collection<Doc>('docs').upsert('a', { name: 'v2', n: 1 }),
            () => tx.handle(p1).collection<Doc>('other').upsert('a', { name: 'other', n: 1 }),
          ),
        );
        expect((await readModels.read(p1, (v) => v.collection<Doc>('docs').get('a')))?.name).toBe('v1');
        expect((await readModels.read(p2, (v) => v.collection<Doc>('docs').get('a')))?.name).toBe('v2');
        expect(await readModels.read(p1, (v) => v.collection<Doc>('other').count())).toBe(1);
      });

      test('rejects bad input with InvalidArgumentError and writes nothing', async () => {
        const readModels = await store();
        const p = ns();
        const attempts: [string, (handle: ProjectionHandle) => Promise<unknown>][] = [
          ['Date', (h) => h.collection<Loose>('docs').upsert('a', { at: new Date() })],
          ['BigInt', (h) => h.collection<Loose>('docs').upsert('a', { n: 1n })],
          ['function', (h) => h.collection<Loose>('docs').upsert('a', { f: () => 1 })],
          ['NaN', (h) => h.collection<Loose>('docs').upsert('a', { n: Number.NaN })],
          ['array document', (h) => h.collection<Loose>('docs').upsert('a', [] as unknown as Loose)],
          ['empty id', (h) => h.collection<Loose>('docs').upsert('', { n: 1 })],
          ['bad collection', (h) => h.collection('bad name!').get('a')],
          ['bad filter field', (h) => h.collection<Doc>('docs').find({ where: { 'a.b': 1 } } as unknown as FindQuery<Doc>)],
          ['object filter value', (h) => h.collection<Doc>('docs').find({ where: { nested: { a: [] } } } as unknown as FindQuery<Doc>)],
          ['bad limit', (h) => h.collection<Doc>('docs').find({ limit: -1 })],
        ];
        for (const [what, attempt] of attempts) {
          const error = await readModels
            .transaction((tx) =>
              all(
                () => tx.handle(p).collection<Doc>('docs').upsert('kept-out', { name: what, n: 0 }),
                () => attempt(tx.handle(p)),
              ),
            )
            .then(
              () => null,
              (e: unknown) => e,
            );
          expect(error, what).toBeInstanceOf(InvalidArgumentError);
          expect((error as Error).message.length, what).toBeGreaterThan(20);
        }
        const dateError = await readModels
          .transaction((tx) => tx.handle(p).collection<Loose>('docs').upsert('a', { at: new Date() }))
          .catch((e: unknown) => e);
        expect((dateError as Error).message).toMatch(/docs\/a.*document\.at.*Date.*ISO/);
        expect(await readModels.read(p, (v) => v.collection('docs').count())).toBe(0);
      });
    });

    describe('transactions', () => {
      test('commit documents and checkpoint together, or neither', async () => {
        const readModels = await store();
        const p = ns();
        await readModels.transaction((tx) => tx.createState(p));
        await readModels.transaction((tx) =>
          all(
            () => tx.handle(p).collection<Doc>('docs').upsert('a', { name: 'a', n: 1 }),
            () => tx.setCheckpoint(p.namespace, 5n),
          ),
        );
        const boom = new Error('boom');
        await expect(
          readModels.transaction(async (tx) => {
            await tx.handle(p).collection<Doc>('docs').upsert('b', { name: 'b', n: 2 });
            await tx.handle(p).collection<Doc>('docs').delete('a');
            await tx.setCheckpoint(p.namespace, 9n);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await readModels.transaction((tx) => tx.getCheckpoint(p.namespace))).toBe(5n);
        expect((await readModels.read(p, (v) => v.collection<Doc>('docs').find())).map((d) => d.name)).toEqual(['a']);
      });

      test('see their own writes before commit', async () => {
        const readModels = await store();
        const p = ns();
        const seen = await readModels.transaction(async (tx) => {
          const docs = tx.handle(p).collection<Doc>('docs');
          await docs.upsert('a', { name: 'a', n: 1 });
          return [(await docs.get('a'))?.n, await docs.count(), (await docs.find({ where: { name: 'a' } })).length];
        });
        expect(seen).toEqual([1, 1, 1]);
      });

      test('with batchWrites, see their own held-back writes (get, update, delete, find, count) and commit them, or nothing on a throw', async () => {
        const readModels = await store();
        const p = ns();
        const batched = { batchWrites: true } as const;
        await readModels.transaction(async (tx) => {
          const docs = tx.handle(p).collection<Doc>('docs');
          await docs.upsert('a', { name: 'a', n: 1, nested: { a: [1] } });
          const copy = (await docs.get('a'))!;
          copy.nested!.a.push(2);
          expect(await docs.get('a')).toEqual({ name: 'a', n: 1, nested: { a: [1] } });
          expect(await docs.update('a', (d) => ({ ...d, n: d.n + 1 }))).toBe(true);
          expect((await docs.get('a'))?.n).toBe(2);
          await docs.upsert('b', { name: 'b', n: 1 });
          expect(await docs.delete('b')).toBe(true);
          expect(await docs.get('b')).toBeNull();
          expect(await docs.delete('b')).toBe(false);
          expect(await docs.update('b', (d) => d)).toBe(false);
          await docs.upsert('c', { name: 'c', n: 3 });
          expect(await docs.count()).toBe(2);
          expect((await docs.find({ where: { name: 'c' } })).map((d) => d.n)).toEqual([3]);
          expect(await docs.delete('c')).toBe(true);
          expect(await docs.count()).toBe(1);
          await docs.upsert('d', { name: 'd', n: 4 });
        }, batched);
        const committed = () => readModels.read(p, (view) => view.collection<Doc>('docs').find());
        expect((await committed()).map((d) => [d.name, d.n])).toEqual([
          ['a', 2],
          ['d', 4],
        ]);
        await readModels.transaction(async (tx) => {
          const docs = tx.handle(p).collection<Doc>('docs');
          // Committed before: deleted here, then written and deleted again.
          expect(await docs.delete('a')).toBe(true);
          expect(await docs.get('a')).toBeNull();
          await docs.upsert('a', { name: 'a again', n: 9 });
          expect(await docs.delete('a')).toBe(true);
          expect(await docs.update('d', (d) => ({ ...d, n: 40 }))).toBe(true);
          await docs.upsert('e', { name: 'e', n: 5 });
        }, batched);
        expect((await committed()).map((d) => [d.name, d.n])).toEqual([
          ['d', 40],
          ['e', 5],
        ]);
        const boom = new Error('boom');
        await expect(
          readModels.transaction(async (tx) => {
            const docs = tx.handle(p).collection<Doc>('docs');
            await docs.upsert('f', { name: 'f', n: 6 });
            await docs.delete('d');
            throw boom;
          }, batched),
        ).rejects.toBe(boom);
        expect((await committed()).map((d) => d.name)).toEqual(['d', 'e']);
      });

      test('reject a handle used after its transaction ended', async () => {
        const readModels = await store();
        const p = ns();
        const handle = await readModels.transaction((tx) => tx.handle(p));
        await expect((async () => handle.collection<Doc>('docs').upsert('a', { name: 'late', n: 1 }))()).rejects.toThrow(InvalidArgumentError);
        expect(await readModels.read(p, (v) => v.collection('docs').count())).toBe(0);
      });

      test('return what the function returns', async () => {
        const readModels = await store();
        expect(await readModels.transaction(() => 42)).toBe(42);
      });
    });

    describe('bookkeeping', () => {
      test('keeps state, checkpoint and failure per projection version', async () => {
        const readModels = await store();
        const p = ns();
        expect(await readModels.transaction((tx) => tx.getState(p.namespace))).toBeNull();
        expect(await readModels.transaction((tx) => tx.getCheckpoint(p.namespace))).toBeNull();
        await readModels.transaction((tx) => tx.createState(p));
        const fresh = await readModels.transaction((tx) => tx.getState(p.namespace));
        expect(fresh).toMatchObject({ projection: p, checkpoint: null, failure: null });
        expect(Number.isNaN(Date.parse(fresh!.updatedAt))).toBe(false);
        const big = 2n ** 60n;
        await readModels.transaction((tx) =>
          all(
            () => tx.setCheckpoint(p.namespace, big),
            () => tx.setFailure(p.namespace, failure(big + 1n)),
          ),
        );
        const state = await readModels.transaction((tx) => tx.getState(p.namespace));
        expect(state?.checkpoint).toBe(big);
        expect(state?.failure).toEqual(failure(big + 1n));
        await readModels.transaction((tx) => tx.setFailure(p.namespace, null));
        expect((await readModels.transaction((tx) => tx.getState(p.namespace)))?.failure).toBeNull();
      });

      test('serves one version per name; readers follow it', async () => {
        const readModels = await store();
        const v1 = ns('served');
        const v2 = projectionNamespace(v1.name, 2);
        await expect(readModels.read(v1.name, () => 1)).rejects.toThrow(InvalidArgumentError);
        await readModels.transaction((tx) =>
          all(
            () => tx.createState(v1),
            () => tx.createState(v2),
            () => tx.handle(v1).collection<Doc>('docs').upsert('a', { name: 'old', n: 1 }),
            () => tx.handle(v2).collection<Doc>('docs').upsert('a', { name: 'new', n: 2 }),
            () => tx.setActiveVersion(v1.name, 1),
          ),
        );
        expect(await readModels.read(v1.name, async (v) => [v.projection.version, (await v.collection<Doc>('docs').get('a'))?.name])).toEqual([1, 'old']);
        await readModels.transaction((tx) => tx.setActiveVersion(v1.name, 2));
        expect((await readModels.read(v1.name, (v) => v.collection<Doc>('docs').get('a')))?.name).toBe('new');
        expect((await readModels.read({ name: v1.name, version: 1 }, (v) => v.collection<Doc>('docs').get('a')))?.name).toBe('old');
        const listed = (await readModels.listProjections()).filter((s) => s.projection.name === v1.name);
        expect(listed.map((s) => [s.projection.version, s.active])).toEqual([
          [1, false],
          [2, true],
        ]);
      });

      test('drops a namespace: documents and state, not its neighbours', async () => {
        const readModels = await store();
        const p = ns();
        const other = ns();
        await readModels.transaction((tx) =>
          all(
            () => tx.createState(p),
            () => tx.createState(other),
            () => tx.setCheckpoint(p.namespace, 3n),
            () => tx.handle(p).collection<Doc>('docs').upsert('a', { name: 'a', n: 1 }),
            () => tx.handle(other).collection<Doc>('docs').upsert('a', { name: 'a', n: 1 }),
          ),
        );
        await readModels.transaction((tx) => tx.dropNamespace(p.namespace));
        expect(await readModels.transaction((tx) => tx.getState(p.namespace))).toBeNull();
        expect(await readModels.read(p, (v) => v.collection('docs').count())).toBe(0);
        expect(await readModels.read(other, (v) => v.collection('docs').count())).toBe(1);
      });

      test('keeps dead letters, listed per namespace', async () => {
        const readModels = await store();
        const p = ns();
        const other = ns();
        const letter = (projection: typeof p, position: bigint): ProjectionDeadLetter => ({
          projection,
          position,
          eventId: `0190c3f2-0000-7000-8000-00000000000${position}`,
          eventType: 'OrderPaid',
          streamId: 'order-1',
          error: 'Error: boom',
          attempts: 2,
          recordedAt: '2025-01-01T00:00:00.000Z',
        });
        await readModels.transaction((tx) =>
          all(
            () => tx.addDeadLetter(letter(p, 1n)),
            () => tx.addDeadLetter(letter(other, 2n)),
            () => tx.addDeadLetter(letter(p, 3n)),
          ),
        );
        await expect(
          readModels.transaction(async (tx) => {
            await tx.addDeadLetter(letter(p, 4n));
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        expect(await readModels.deadLetters(p.namespace)).toEqual([letter(p, 1n), letter(p, 3n)]);
        expect((await readModels.deadLetters()).filter((d) => d.projection.namespace === other.namespace)).toEqual([letter(other, 2n)]);
      });
    });

    queryCases(test, store);
    waitCases(test, store, withPeer);

    describe('leases', () => {
      test('one owner at a time; renewable by its owner; free after release or expiry', async () => {
        const readModels = await store();
        const key = `lease-${ns().name}`;
        expect(await readModels.tryAcquireLease(key, 'a', 60_000)).toBe(true);
        expect(await readModels.tryAcquireLease(key, 'b', 60_000)).toBe(false);
        expect(await readModels.tryAcquireLease(key, 'a', 60_000)).toBe(true);
        await readModels.releaseLease(key, 'b');
        expect(await readModels.tryAcquireLease(key, 'b', 60_000)).toBe(false);
        await readModels.releaseLease(key, 'a');
        expect(await readModels.tryAcquireLease(key, 'b', 50)).toBe(true);
        expect(await readModels.tryAcquireLease(key, 'a', 60_000)).toBe(false);
        await new Promise((resolve) => setTimeout(resolve, 120));
        expect(await readModels.tryAcquireLease(key, 'a', 60_000)).toBe(true);
      });

      test('rejects bad lease arguments', async () => {
        const readModels = await store();
        await expect(readModels.tryAcquireLease('', 'a', 1000)).rejects.toThrow(InvalidArgumentError);
        await expect(readModels.tryAcquireLease('k', '', 1000)).rejects.toThrow(InvalidArgumentError);
        await expect(readModels.tryAcquireLease('k', 'a', 0)).rejects.toThrow(InvalidArgumentError);
      });
    });
  });
}
