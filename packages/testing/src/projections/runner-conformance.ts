/**
 * The conformance suite of projections on a pair of stores (event store + read-model store):
 * catch-up, read-your-writes by position, lag, failures that stop and resume (handlers that
 * throw, events whose upcaster throws, store errors), dead letters,
 * blue/green switches, rebuilds with progress, time-range replays, and one active runner per
 * projection.
 */
import {
  collect,
  defineProjection,
  InvalidArgumentError,
  LeaseHeldError,
  ProjectionRunner,
  ProjectionWaitTimeoutError,
  replayTimeRange,
  SchemaRegistry,
  StoreBusyError,
  StoreUnavailableError,
  SubscriptionFailedError,
  SubscriptionStoppedError,
  type EventStore,
  type ProjectionProgress,
  type ProjectionRunnerEvent,
  type ProjectionRunnerOptions,
  type ReadModelStore,
} from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendOrders,
  created,
  eventually,
  ledgerProjection,
  noted,
  orderSummaryProjection,
  paid,
  shipped,
  uniqueOrderStream,
  type OrderEvent,
  type OrderSummary,
  type StreamLedger,
} from './fixtures.js';
import { customerOrders, customerOrdersProjection, getCustomerOrders } from './portable-projection.js';
import { failingReads, lateCommitReplies, upcastingReads } from './store-wrappers.js';

export interface CreatedProjectionStores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /** Releases what `create` made; called after each test. */
  readonly cleanup?: () => Promise<void>;
}

export interface ProjectionConformanceOptions {
  /** Shown in the suite's name, e.g. `sqlite`. */
  readonly name: string;
  /** Fresh, empty stores per call; the event store takes recorded times from `clock` when given. */
  readonly create: (options?: { readonly clock?: () => Date }) => Promise<CreatedProjectionStores>;
  /** Tests these stores skip, by name, each with its reason. */
  readonly skip?: Readonly<Record<string, string>>;
  /**
   * Makes storage refuse any document whose id is `id` (a CHECK constraint, a trigger): the
   * document API accepts the write, storage refuses it only when it arrives. Leave it out where
   * storage refuses nothing the API accepts (memory); the tests that need it then say so.
   */
  readonly refuseDocument?: (stores: CreatedProjectionStores, id: string) => Promise<void>;
}

const FAST = { pollIntervalMs: 20, leaseTtlMs: 2_000, failurePolicy: { retryDelayMs: 5, maxRetryDelayMs: 20 } } as const;

export function runProjectionConformance(options: ProjectionConformanceOptions): void {
  const cleanups: (() => Promise<void>)[] = [];
  const skip = options.skip ?? {};
  const test = (name: string, fn: () => Promise<void>): void => {
    const reason = skip[name];
    if (reason) it.skip(`${name} (skipped: ${reason})`, fn);
    else it(name, fn);
  };
  const stores = async (clock?: () => Date): Promise<CreatedProjectionStores> => {
    const created = await options.create(clock ? { clock } : undefined);
    cleanups.push(async () => {
      await created.readModels.close().catch(() => undefined);
      await created.eventStore.close().catch(() => undefined);
      await created.cleanup?.();
    });
    return created;
  };
  const runner = (
    s: CreatedProjectionStores,
    extra: Partial<ProjectionRunnerOptions> & { events?: ProjectionRunnerEvent[] } = {},
  ): ProjectionRunner => {
    const { events, ...rest } = extra;
    const r = new ProjectionRunner({
      eventStore: s.eventStore,
      readModels: s.readModels,
      ...FAST,
      ...rest,
      ...(events && { onEvent: (event: ProjectionRunnerEvent) => events.push(event) }),
    });
    cleanups.unshift(() => r.stop());
    return r;
  };
  const ledgers = (s: CreatedProjectionStores, name = 'ledger') =>
    s.readModels.read(name, (view) => view.collection<StreamLedger>('ledgers').find());

  describe(`projection conformance: ${options.name}`, () => {
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    test('catches up on history, then follows live appends', async () => {
      const s = await stores();
      const history = await appendOrders(s.eventStore, 20);
      const r = runner(s, { projections: [orderSummaryProjection(), ledgerProjection()], batchSize: 7 });
      await r.start();
      await r.waitForPosition('order-summary', history.position, 20_000);
      await r.waitForPosition('ledger', history.position, 20_000);
      const orders = await s.readModels.read('order-summary', (v) => v.collection<OrderSummary>('orders').find());
      expect(orders).toHaveLength(20);
      expect(orders.filter((o) => o.status === 'shipped')).toHaveLength(7);
      expect(orders.every((o) => o.paid === o.total)).toBe(true);

      const streamId = uniqueOrderStream();
      const orderId = streamId.slice('order-'.length);
      const live = await s.eventStore.appendToStream(streamId, [created(orderId, 99), paid(orderId, 40)]);
      await r.waitForPosition('order-summary', live.position, 10_000);
      const order = await s.readModels.read('order-summary', (v) => v.collection<OrderSummary>('orders').get(orderId));
      expect(order).toMatchObject({ total: 99, paid: 40, status: 'paid' });
      await r.waitForPosition('ledger', live.position, 10_000);
      const all = await ledgers(s);
      expect(all.reduce((sum, l) => sum + l.count, 0)).toBe(history.events + 2);
      expect(all.every((l) => l.gaps === 0)).toBe(true);
      expect(r.status('order-summary')).toMatchObject({ status: 'live', serving: true, leading: true, failure: null });
    });

    test('reports lag in events and seconds, and none once caught up', async () => {
      const s = await stores();
      const projection = orderSummaryProjection();
      const r = runner(s, { projections: [projection] });
      await r.start();
      await r.waitForPosition(projection, await s.eventStore.headPosition(), 10_000);
      await r.stop();
      const appended = await appendOrders(s.eventStore, 3);
      await new Promise((resolve) => setTimeout(resolve, 30));
      const behind = await r.lag('order-summary');
      expect(behind.head).toBe(appended.position);
      expect(behind.events).toBe(appended.events);
      expect(behind.seconds).toBeGreaterThan(0);
      expect(behind.projection.namespace).toBe('order-summary@1');
      await r.start();
      await r.waitForPosition(projection, appended.position, 10_000);
      const caughtUp = await r.lag('order-summary');
      expect(caughtUp).toMatchObject({ events: 0, seconds: 0, failure: null });
    });

    test('a live runner is woken by appends, not only by its poll', async () => {
      const s = await stores();
      // Polls and lease renewals a minute apart: only a wake-up from the append can apply it in time.
      const r = runner(s, { projections: [ledgerProjection()], pollIntervalMs: 60_000, leaseTtlMs: 180_000 });
      await r.start();
      await eventually(() => expect(r.status('ledger').status).toBe('live'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const streamId = uniqueOrderStream();
      const { position } = await s.eventStore.appendToStream(streamId, [created(streamId.slice(6))]);
      // the store's waiter, not the runner's (which would wake its own worker)
      await s.readModels.waitForPosition('ledger', position, { timeoutMs: 10_000 });
      expect((await ledgers(s)).find((l) => l.streamId === streamId)).toMatchObject({ count: 1 });
    });

    test('moves the checkpoint over events it does not handle', async () => {
      const s = await stores();
      const projection = orderSummaryProjection();
      const r = runner(s, { projections: [projection] });
      await r.start();
      const streamId = uniqueOrderStream();
      const orderId = streamId.slice('order-'.length);
      const last = await s.eventStore.appendToStream(streamId, [created(orderId), noted(orderId), noted(orderId)]);
      await r.waitForPosition('order-summary', last.position, 10_000);
      await eventually(async () => expect((await r.lag('order-summary')).events).toBe(0));
    });

    test('waitForPosition times out with a typed error and rejects bad input', async () => {
      const s = await stores();
      const r = runner(s, { projections: [orderSummaryProjection()] });
      await r.start();
      await r.waitForPosition('order-summary', 0n, 5_000);
      const error = await r.waitForPosition('order-summary', 10_000n, 50).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProjectionWaitTimeoutError);
      expect((error as Error).message).toMatch(/order-summary@1 did not reach position 10000 within 50 ms/);
      await expect(r.waitForPosition('order-summary', -1n)).rejects.toThrow(InvalidArgumentError);
      await expect(r.waitForPosition('no such name!', 1n)).rejects.toThrow(InvalidArgumentError);
    });

    test('a restarted runner resumes from its checkpoint without skipping or repeating', async () => {
      const s = await stores();
      await appendOrders(s.eventStore, 10);
      const first = runner(s, { projections: [ledgerProjection()], batchSize: 4 });
      await first.start();
      await first.waitForPosition('ledger', await s.eventStore.headPosition(), 10_000);
      await first.stop();
      const more = await appendOrders(s.eventStore, 10);
      const second = runner(s, { projections: [ledgerProjection()], batchSize: 4 });
      await second.start();
      await second.waitForPosition('ledger', more.position, 10_000);
      const all = await ledgers(s);
      expect(all).toHaveLength(20);
      expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
    });

    test('a failing handler stops the projection at the event, visibly, and it resumes from there after the fix', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      let broken = true;
      const attempts: bigint[] = [];
      const projection = ledgerProjection({
        hook: (event) => {
          if (broken && event.streamId === bad && event.type === 'OrderPaid') {
            attempts.push(event.position);
            throw new Error(`cannot handle payment on ${event.streamId}`);
          }
        },
      });
      const before = await appendOrders(s.eventStore, 3);
      const failing = await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6)), shipped(bad.slice(6))]);
      const after = await appendOrders(s.eventStore, 2);
      const events: ProjectionRunnerEvent[] = [];
      const r = runner(s, { projections: [projection], events, failurePolicy: { maxAttempts: 3, retryDelayMs: 5 } });
      await r.start();
      await eventually(() => expect(r.status('ledger').status).toBe('failed'));

      const failedAt = failing.events[1]!;
      const info = r.status('ledger');
      expect(info.checkpoint).toBe(failing.events[0]!.position);
      expect(info.failure).toMatchObject({
        position: failedAt.position,
        eventId: failedAt.id,
        eventType: 'OrderPaid',
        streamId: bad,
        attempts: 3,
      });
      expect(info.failure!.error).toContain(`cannot handle payment on ${bad}`);
      expect(attempts).toEqual([failedAt.position, failedAt.position, failedAt.position]);
      expect(events.filter((e) => e.type === 'retrying')).toHaveLength(2);
      expect(events.some((e) => e.type === 'failed')).toBe(true);
      const stored = (await s.readModels.listProjections()).find((p) => p.projection.namespace === 'ledger@1');
      expect(stored?.failure?.eventId).toBe(failedAt.id);
      expect(stored?.checkpoint).toBe(failing.events[0]!.position);
      // the events before the failing one were applied; nothing after it
      const partial = await ledgers(s);
      expect(partial.find((l) => l.streamId === bad)?.count).toBe(1);
      expect(partial.filter((l) => before.streams.includes(l.streamId)).every((l) => l.count === l.lastVersion)).toBe(true);
      expect(partial.some((l) => after.streams.includes(l.streamId))).toBe(false);
      const waitError = await r.waitForPosition('ledger', after.position, 2_000).catch((e: unknown) => e);
      expect(waitError).toBeInstanceOf(SubscriptionFailedError);
      expect((waitError as SubscriptionFailedError).position).toBe(failedAt.position);
      expect((await r.lag('ledger')).failure?.position).toBe(failedAt.position);

      // waiters elsewhere (on the store, no runner) see the stop too
      const storeWait = await s.readModels.waitForPosition('ledger', after.position, { timeoutMs: 2_000 }).catch((e: unknown) => e);
      expect(storeWait).toBeInstanceOf(SubscriptionFailedError);

      broken = false;
      await r.restart('ledger');
      // once restarted, they wait for it rather than fail on the failure it is retrying
      await s.readModels.waitForPosition('ledger', after.position, { timeoutMs: 10_000 });
      await r.waitForPosition('ledger', after.position, 10_000);
      const all = await ledgers(s);
      expect(all.find((l) => l.streamId === bad)).toMatchObject({ count: 3, gaps: 0 });
      expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
      expect(all).toHaveLength(6);
      expect(r.status('ledger')).toMatchObject({ failure: null, status: 'live' });
      expect((await s.readModels.listProjections()).find((p) => p.projection.namespace === 'ledger@1')?.failure).toBeNull();
    });

    test('a restart right after a waiter elsewhere saw the stop is not lost', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      let broken = true;
      const failing = await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6))]);
      let delay = 0;
      const readModels = lateCommitReplies(s.readModels, () => delay);
      const projection = ledgerProjection({
        hook: (e) => {
          if (broken && e.type === 'OrderPaid') {
            delay = 300; // the commit that records the failure reaches the runner late
            throw new Error('bug');
          }
        },
      });
      const r = runner({ ...s, readModels }, { projections: [projection], failurePolicy: { maxAttempts: 1 } });
      await r.start();
      const seen = await s.readModels.waitForPosition('ledger', failing.position, { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(seen).toBeInstanceOf(SubscriptionFailedError);
      broken = false;
      delay = 0;
      await r.restart('ledger');
      await r.waitForPosition('ledger', failing.position, 10_000);
      expect((await ledgers(s)).find((l) => l.streamId === bad)).toMatchObject({ count: 2, gaps: 0 });
    });

    test('a projection stopped on a failure resumes in a new runner (a restarted process) once fixed', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6))]);
      const broken = runner(s, {
        projections: [ledgerProjection({ hook: (e) => { if (e.type === 'OrderPaid') throw new Error('bug'); } })],
        failurePolicy: { maxAttempts: 1 },
      });
      await broken.start();
      await eventually(() => expect(broken.status('ledger').status).toBe('failed'));
      await broken.stop();
      const fixed = runner(s, { projections: [ledgerProjection()] });
      await fixed.start();
      await fixed.waitForPosition('ledger', await s.eventStore.headPosition(), 10_000);
      expect((await ledgers(s)).find((l) => l.streamId === bad)).toMatchObject({ count: 2, gaps: 0 });
    });

    test('the dead-letter policy records the event and its error, then moves on', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      const projection = ledgerProjection({
        name: 'ledger-dlq',
        hook: (e) => {
          if (e.streamId === bad && e.type === 'OrderPaid') throw new TypeError('unpayable');
        },
      });
      const failing = await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6)), shipped(bad.slice(6))]);
      const events: ProjectionRunnerEvent[] = [];
      const r = runner(s, { projections: [projection], events, failurePolicy: { onFailure: 'dead-letter', maxAttempts: 2 } });
      await r.start();
      await r.waitForPosition('ledger-dlq', failing.position, 10_000);
      const letters = await s.readModels.deadLetters('ledger-dlq@1');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        position: failing.events[1]!.position,
        eventId: failing.events[1]!.id,
        eventType: 'OrderPaid',
        streamId: bad,
        attempts: 2,
        error: 'TypeError: unpayable',
      });
      expect(events.some((e) => e.type === 'dead-lettered')).toBe(true);
      // the dead-lettered event is missing from the read model, and the ledger shows the gap
      expect((await ledgers(s, 'ledger-dlq')).find((l) => l.streamId === bad)).toMatchObject({ count: 2, gaps: 1 });
      expect(r.status('ledger-dlq').status).toBe('live');
    });

    test('an event whose upcaster throws stops the projection at it, visibly, and it resumes there once fixed', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      let broken = true;
      let upcasts = 0;
      const schemas = new SchemaRegistry().upcaster<{ orderId: string; amount: number }, { orderId: string; amount: number }>({
        type: 'OrderPaid',
        fromVersion: 1,
        upcast: (data, event) => {
          if (broken && event.streamId === bad) {
            upcasts++;
            throw new RangeError(`amount of ${event.streamId} is unreadable`);
          }
          return data;
        },
      });
      const before = await appendOrders(s.eventStore, 3);
      const failing = await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6)), shipped(bad.slice(6))]);
      const after = await appendOrders(s.eventStore, 2);
      const events: ProjectionRunnerEvent[] = [];
      const r = runner(
        { ...s, eventStore: upcastingReads(s.eventStore, schemas) },
        { projections: [ledgerProjection()], events, failurePolicy: { maxAttempts: 3, retryDelayMs: 5 } },
      );
      await r.start();
      await eventually(() => expect(r.status('ledger').status).toBe('failed'));
      const failedAt = failing.events[1]!;
      const info = r.status('ledger');
      expect(info.checkpoint).toBe(failing.events[0]!.position);
      expect(info.failure).toMatchObject({ position: failedAt.position, eventId: failedAt.id, eventType: 'OrderPaid', streamId: bad, attempts: 3 });
      expect(info.failure!.error).toMatch(/UpcastError: Upcasting OrderPaid v1.*unreadable/);
      expect(upcasts).toBeGreaterThanOrEqual(3);
      expect(events.filter((e) => e.type === 'retrying')).toHaveLength(2);
      expect(events.some((e) => e.type === 'failed')).toBe(true);
      const partial = await ledgers(s);
      expect(partial.find((l) => l.streamId === bad)?.count).toBe(1);
      expect(partial.filter((l) => before.streams.includes(l.streamId)).every((l) => l.count === l.lastVersion)).toBe(true);
      expect(partial.some((l) => after.streams.includes(l.streamId))).toBe(false);
      const waitError = await r.waitForPosition('ledger', after.position, 2_000).catch((e: unknown) => e);
      expect(waitError).toBeInstanceOf(SubscriptionFailedError);

      broken = false;
      await r.restart('ledger');
      await r.waitForPosition('ledger', after.position, 10_000);
      const all = await ledgers(s);
      expect(all.find((l) => l.streamId === bad)).toMatchObject({ count: 3, gaps: 0 });
      expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
      expect(r.status('ledger')).toMatchObject({ failure: null, status: 'live' });
    });

    test('the dead-letter policy takes an event whose upcaster throws, and moves on', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      const schemas = new SchemaRegistry().upcaster({
        type: 'OrderPaid',
        fromVersion: 1,
        upcast: (data, event) => {
          if (event.streamId === bad) throw new RangeError('unreadable');
          return data;
        },
      });
      const failing = await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6)), shipped(bad.slice(6))]);
      const later = await appendOrders(s.eventStore, 2);
      const events: ProjectionRunnerEvent[] = [];
      const r = runner(
        { ...s, eventStore: upcastingReads(s.eventStore, schemas) },
        { projections: [ledgerProjection({ name: 'ledger-dlq' })], events, batchSize: 50, failurePolicy: { onFailure: 'dead-letter', maxAttempts: 2 } },
      );
      await r.start();
      await r.waitForPosition('ledger-dlq', later.position, 10_000);
      const letters = await s.readModels.deadLetters('ledger-dlq@1');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ position: failing.events[1]!.position, eventId: failing.events[1]!.id, eventType: 'OrderPaid', streamId: bad, attempts: 2 });
      expect(letters[0]!.error).toMatch(/^UpcastError: Upcasting OrderPaid v1/);
      expect(events.some((e) => e.type === 'dead-lettered')).toBe(true);
      const all = await ledgers(s, 'ledger-dlq');
      expect(all.find((l) => l.streamId === bad)).toMatchObject({ count: 2, gaps: 1 });
      expect(all.filter((l) => later.streams.includes(l.streamId)).every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
      expect(r.status('ledger-dlq').status).toBe('live');
    });

    test('transient store errors are waited out; any other error stops the projection visibly until restarted', async () => {
      const s = await stores();
      const history = await appendOrders(s.eventStore, 4);
      let failure: (() => Error) | null = () => new StoreUnavailableError('connection lost during readAll');
      let failures = 0;
      const events: ProjectionRunnerEvent[] = [];
      const flaky = failingReads(s.eventStore, () => (failure ? (failures++, failure()) : null));
      const r = runner({ ...s, eventStore: flaky }, { projections: [ledgerProjection()], events });
      await r.start();
      await eventually(() => expect(failures).toBeGreaterThanOrEqual(3));
      failure = () => new StoreBusyError('readAll', 5);
      await eventually(() => expect(failures).toBeGreaterThanOrEqual(6));
      expect(r.status('ledger').status).not.toBe('failed');
      failure = null;
      await r.waitForPosition('ledger', history.position, 10_000);
      const retried = events.filter((e) => e.type === 'error');
      expect(retried.length).toBeGreaterThanOrEqual(6);
      expect(retried.every((e) => e.type === 'error' && e.willRetry)).toBe(true);

      const more = await appendOrders(s.eventStore, 1);
      failure = () => new TypeError('a bug in the store');
      await eventually(() => expect(r.status('ledger').status).toBe('failed'));
      const info = r.status('ledger');
      expect(info.error).toBeInstanceOf(TypeError);
      expect(info.failure).toBeNull();
      expect(events.at(-1)).toMatchObject({ type: 'error', willRetry: false });
      const stopped = await r.waitForPosition('ledger', more.position, 2_000).catch((e: unknown) => e);
      expect(stopped).toBeInstanceOf(SubscriptionStoppedError);
      expect((stopped as SubscriptionStoppedError).cause).toBeInstanceOf(TypeError);
      const countBefore = failures;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(failures).toBe(countBefore); // stopped: not retrying in a loop
      failure = null;
      await r.restart('ledger');
      await r.waitForPosition('ledger', more.position, 10_000);
      await eventually(() => expect(r.status('ledger')).toMatchObject({ status: 'live', error: null }));
    });

    test('rebuild reports typed errors: LEASE_HELD while another process runs it, SUBSCRIPTION_FAILED when it fails', async () => {
      const s = await stores();
      const history = await appendOrders(s.eventStore, 2);
      const holder = runner(s, { owner: 'holder', projections: [ledgerProjection()] });
      await holder.start();
      await holder.waitForPosition('ledger', history.position, 10_000);
      const other = runner(s, { owner: 'other', projections: [ledgerProjection()] });
      const held = await other.rebuild('ledger').catch((e: unknown) => e);
      expect(held).toBeInstanceOf(LeaseHeldError);
      expect(held).toMatchObject({ code: 'LEASE_HELD' });
      await holder.stop();
      const broken = runner(s, {
        owner: 'broken',
        projections: [ledgerProjection({ hook: (e) => { if (e.type === 'OrderPaid') throw new Error('bug'); } })],
        failurePolicy: { maxAttempts: 1 },
      });
      const failed = await broken.rebuild('ledger').catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(SubscriptionFailedError);
      expect(failed).toMatchObject({ code: 'SUBSCRIPTION_FAILED' });
    });

    test('one projection module, compiled once, runs unchanged: customer orders newest first, paged, read after waiting on the store', async () => {
      const s = await stores();
      const mine = `cust-${uniqueOrderStream()}`;
      const other = `${mine}-other`;
      let last = 0n;
      for (let i = 0; i < 8; i++) {
        const streamId = uniqueOrderStream();
        const orderId = streamId.slice('order-'.length);
        const events = [created(orderId, 10 + i, i % 4 === 3 ? other : mine), ...(i % 3 === 0 ? [paid(orderId, 10 + i)] : [])];
        last = (await s.eventStore.appendToStream(streamId, events)).position;
      }
      const r = runner(s, { projections: [customerOrdersProjection] });
      await r.start();
      // read-your-writes without the runner: the store itself waits for the position
      await s.readModels.waitForPosition(customerOrdersProjection.name, last, { timeoutMs: 20_000 });
      const expected = (await collect(s.eventStore.readAll({ filter: { eventTypes: ['OrderCreated'] } })))
        .filter((e) => (e.data as { customerId: string }).customerId === mine)
        .map((e) => ({ orderId: (e.data as { orderId: string }).orderId, placedAt: e.time }))
        .sort((a, b) => (a.placedAt === b.placedAt ? (a.orderId < b.orderId ? 1 : -1) : a.placedAt < b.placedAt ? 1 : -1))
        .map((o) => o.orderId);
      expect(expected).toHaveLength(6);
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof getCustomerOrders>> = await getCustomerOrders(s.readModels, mine, { limit: 4, after });
        seen.push(...page.documents.map((o) => o.orderId));
        expect(page.documents.every((o) => o.customerId === mine)).toBe(true);
        after = page.next;
      } while (after !== null);
      expect(seen).toEqual(expected);
      const first = await getCustomerOrders(s.readModels, mine, { limit: 1 });
      expect(first.documents[0]).toMatchObject({ orderId: expected[0], customerId: mine });
      expect((await getCustomerOrders(s.readModels, other)).documents).toHaveLength(2);
      expect(await s.readModels.read(customerOrdersProjection.name, (v) => v.collection(customerOrders).count({ customerId: mine, status: 'paid' }))).toBe(
        [0, 1, 2, 4, 5, 6].filter((i) => i % 3 === 0).length,
      );
    });

    test('a handler may read another projection\'s read model while its own transaction is open', async () => {
      const s = await stores();
      // The seed's projection denormalizes: it looks the customer up in another read model.
      const customers = defineProjection<OrderEvent>({
        name: 'customers-seen',
        version: 1,
        handlers: {
          OrderCreated: async (event, { collection }) => {
            await collection<{ orders: number }>('customers').upsert(event.data.customerId, { orders: 1 });
          },
        },
      });
      const r0 = runner(s, { projections: [customers] });
      await r0.start();
      const streamId = uniqueOrderStream();
      const orderId = streamId.slice('order-'.length);
      const first = await s.eventStore.appendToStream(streamId, [created(orderId, 10, 'cust-1')]);
      await r0.waitForPosition('customers-seen', first.position, 10_000);
      const enriched = defineProjection<OrderEvent>({
        name: 'orders-enriched',
        version: 1,
        handlers: {
          OrderCreated: async (event, { collection }) => {
            const customer = await s.readModels.read('customers-seen', (view) => view.collection<{ orders: number }>('customers').get(event.data.customerId));
            await collection<{ known: boolean }>('orders').upsert(event.data.orderId, { known: customer !== null });
          },
        },
      });
      const r = runner(s, { projections: [enriched] });
      await r.start();
      await r.waitForPosition('orders-enriched', first.position, 10_000);
      expect(await s.readModels.read('orders-enriched', (view) => view.collection<{ known: boolean }>('orders').get(orderId))).toEqual({ known: true });
    });

    test('handlers may await anything: each transaction stays whole across awaits while other projections commit', async () => {
      const s = await stores();
      const history = await appendOrders(s.eventStore, 12);
      const pause = () => new Promise((resolve) => setTimeout(resolve, 1));
      // Both await a timer between reading and writing, so their transactions overlap in time.
      const slow = (name: string) => ledgerProjection({ name, hook: pause });
      const r = runner(s, { projections: [slow('slow-a'), slow('slow-b'), ledgerProjection({ name: 'quick' })], batchSize: 5 });
      await r.start();
      for (const name of ['slow-a', 'slow-b', 'quick']) await r.waitForPosition(name, history.position, 20_000);
      for (const name of ['slow-a', 'slow-b', 'quick']) {
        const all = await ledgers(s, name);
        expect(all, name).toHaveLength(12);
        expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion), name).toBe(true);
      }
    });

    test('a handler that rejects after an await rolls back everything its batch wrote', async () => {
      const s = await stores();
      const bad = uniqueOrderStream();
      await s.eventStore.appendToStream(bad, [created(bad.slice(6)), paid(bad.slice(6))]);
      const projection = ledgerProjection({
        name: 'late-failure',
        hook: async (e) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (e.type === 'OrderPaid') throw new Error('failed after an await');
        },
      });
      const r = runner(s, { projections: [projection], batchSize: 10, failurePolicy: { maxAttempts: 1 } });
      await r.start();
      await eventually(() => expect(r.status('late-failure').status).toBe('failed'));
      // the event before the failing one is committed on its own; the failing one left nothing
      expect((await ledgers(s, 'late-failure')).find((l) => l.streamId === bad)).toMatchObject({ count: 1, gaps: 0 });
      expect(r.status('late-failure').failure?.error).toContain('failed after an await');
    });

    // The runner's batches may hold document writes back and send them together (`batchWrites`):
    // a write storage refuses then surfaces at the commit, or in a later handler's query. The
    // failure policy must still meet the event that made the write.
    const refusing = (name: string, queryOn?: (orderId: string) => boolean) =>
      defineProjection<OrderEvent>({
        name,
        version: 1,
        handlers: {
          OrderCreated: async (event, { collection }) => {
            const docs = collection<{ total: number }>('orders');
            await docs.upsert(event.data.orderId, { total: event.data.total });
            // A query sends the writes held back so far, those of earlier events included.
            if (queryOn?.(event.data.orderId)) await docs.count();
          },
        },
      });
    const sixOrders = async (s: CreatedProjectionStores) => {
      const ids: string[] = [];
      const positions: bigint[] = [];
      for (let i = 0; i < 6; i++) {
        const stream = uniqueOrderStream();
        ids.push(stream.slice(6));
        positions.push((await s.eventStore.appendToStream(stream, [created(stream.slice(6), i + 1)])).position);
      }
      return { ids, positions };
    };
    const refusedSkip = options.refuseDocument ? null : 'its storage refuses no document the document API accepts';
    const refusedTest = (name: string, fn: (refuse: NonNullable<ProjectionConformanceOptions['refuseDocument']>) => Promise<void>): void => {
      if (refusedSkip && !skip[name]) it.skip(`${name} (skipped: ${refusedSkip})`, () => undefined);
      else test(name, () => fn(options.refuseDocument!));
    };

    refusedTest('a write storage refuses when the batch is sent stops the projection at the event that made it; the events before it are applied', async (refuse) => {
      const s = await stores();
      const { ids, positions } = await sixOrders(s);
      await refuse(s, ids[2]!);
      const projection = refusing('refused-stop');
      // Pages of two: the refused write is in the second, which a store that reads ahead has read while the first was applied.
      const r = runner(s, { projections: [projection], batchSize: 2, failurePolicy: { maxAttempts: 2, onFailure: 'stop' } });
      await r.start();
      await eventually(() => expect(r.status('refused-stop').status).toBe('failed'));
      const { failure, checkpoint } = r.status('refused-stop');
      expect(failure).toMatchObject({ position: positions[2], eventType: 'OrderCreated', attempts: 2 });
      expect(checkpoint).toBe(positions[1]);
      const found = await s.readModels.read({ name: 'refused-stop', version: 1 }, (view) =>
        Promise.all(ids.map((id) => view.collection<{ total: number }>('orders').get(id))),
      );
      expect(found.map((doc) => doc?.total ?? null)).toEqual([1, 2, null, null, null, null]);
    });

    refusedTest("a refused write sent by a later handler's query is dead-lettered as the event that made it; the others are applied", async (refuse) => {
      const s = await stores();
      const { ids, positions } = await sixOrders(s);
      await refuse(s, ids[2]!);
      const projection = refusing('refused-dlq', (orderId) => orderId === ids[3]);
      const events: ProjectionRunnerEvent[] = [];
      const r = runner(s, { projections: [projection], events, batchSize: 4, failurePolicy: { maxAttempts: 1, onFailure: 'dead-letter' } });
      await r.start();
      await r.waitForPosition('refused-dlq', positions[5]!, 10_000);
      const letters = await s.readModels.deadLetters('refused-dlq@1');
      expect(letters.map((l) => l.position)).toEqual([positions[2]]);
      expect(letters[0]).toMatchObject({ eventType: 'OrderCreated', attempts: 1 });
      const found = await s.readModels.read('refused-dlq', (view) => Promise.all(ids.map((id) => view.collection<{ total: number }>('orders').get(id))));
      expect(found.map((doc) => doc?.total ?? null)).toEqual([1, 2, null, 4, 5, 6]);
      expect(events.filter((e) => e.type === 'dead-lettered')).toHaveLength(1);
      expect(r.status('refused-dlq').status).toBe('live');
    });

    test('blue/green: a new version builds beside the old, which serves until the switch', async () => {
      const s = await stores();
      const history = await appendOrders(s.eventStore, 6);
      const v1 = orderSummaryProjection({ name: 'bg-summary', version: 1 });
      const old = runner(s, { projections: [v1] });
      await old.start();
      await old.waitForPosition('bg-summary', history.position, 10_000);

      // v2 is held back half way (its handler fails and is retried) until `hold` is lifted.
      let hold = true;
      // Positions need not be dense (PostgreSQL's are not): hold back from the fourth order's creation on.
      const creations: bigint[] = [];
      for await (const event of s.eventStore.readAll({ filter: { eventTypes: ['OrderCreated'] } })) creations.push(event.position);
      const holdFrom = creations[2]!;
      const v2 = defineProjection<OrderEvent>({
        name: 'bg-summary',
        version: 2,
        handlers: {
          OrderCreated: async (event, read) => {
            if (hold && event.position > holdFrom) throw new Error('held back');
            await read.collection<{ orderId: string; v: number }>('orders').upsert(event.data.orderId, { orderId: event.data.orderId, v: 2 });
          },
        },
      });
      const events: ProjectionRunnerEvent[] = [];
      const next = runner(s, {
        projections: [v2],
        events,
        batchSize: 2,
        failurePolicy: { maxAttempts: 100_000, retryDelayMs: 5, maxRetryDelayMs: 10 },
      });
      await next.start();
      await eventually(() => expect(events.some((e) => e.type === 'retrying')).toBe(true));
      expect(next.status('bg-summary').serving).toBe(false);
      const partial = await s.readModels.read({ name: 'bg-summary', version: 2 }, (v) => v.collection('orders').count());
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(6);
      // the old version still serves, and keeps up with new events
      const streamId = uniqueOrderStream();
      const orderId = streamId.slice('order-'.length);
      const live = await s.eventStore.appendToStream(streamId, [created(orderId, 5)]);
      await old.waitForPosition('bg-summary', live.position, 10_000);
      expect(await s.readModels.read('bg-summary', async (v) => [v.projection.version, (await v.collection<OrderSummary>('orders').get(orderId))?.status])).toEqual([
        1,
        'open',
      ]);
      expect(await s.readModels.read('bg-summary', (v) => v.collection('orders').count())).toBe(7);
      hold = false;
      await eventually(() => expect(events.some((e) => e.type === 'switched' && e.projection.version === 2)).toBe(true), 20_000);
      const switched = events.find((e) => e.type === 'switched');
      expect(switched).toMatchObject({ from: 1 });
      expect(await s.readModels.read('bg-summary', async (v) => [v.projection.version, await v.collection<{ v: number }>('orders').count()])).toEqual([2, 7]);
      await next.waitForPosition('bg-summary', live.position, 5_000);
      await eventually(() => expect(old.status('bg-summary').status).toBe('superseded'), 10_000);
      // the old read model is kept (for a rollback) until it is dropped
      expect(await s.readModels.read({ name: 'bg-summary', version: 1 }, (v) => v.collection('orders').count())).toBe(7);
    });

    test('rebuilds from the start with progress reports', async () => {
      const s = await stores();
      const history = await appendOrders(s.eventStore, 30);
      const r = runner(s, { projections: [ledgerProjection()], batchSize: 10 });
      await r.start();
      await r.waitForPosition('ledger', history.position, 10_000);
      const reports: ProjectionProgress[] = [];
      const final = await r.rebuild('ledger', { onProgress: (p) => reports.push(p) });
      expect(final?.done).toBe(true);
      const written = (await collect(s.eventStore.readAll())).length;
      expect(final?.processed).toBe(written); // events, whatever the spacing of positions
      expect(final?.total).toBe(written);
      expect(reports.length).toBeGreaterThanOrEqual(3);
      expect(reports.at(-1)?.done).toBe(true);
      expect(reports.every((p, i) => i === 0 || p.processed >= reports[i - 1]!.processed)).toBe(true);
      expect(reports.slice(0, -1).some((p) => p.etaSeconds !== null && p.eventsPerSecond > 0)).toBe(true);
      const all = await ledgers(s);
      expect(all).toHaveLength(30);
      expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
      // the runner keeps following the log after the rebuild
      const more = await appendOrders(s.eventStore, 1);
      await r.waitForPosition('ledger', more.position, 10_000);
      expect(await ledgers(s)).toHaveLength(31);
    });

    test('two runners on the same projection: one applies, the other stands by and takes over', async () => {
      const s = await stores();
      const appliedBy: string[] = [];
      const events: ProjectionRunnerEvent[] = [];
      let owner = '';
      const make = (name: string) =>
        runner(s, {
          owner: name,
          leaseTtlMs: 300,
          events,
          batchSize: 5,
          projections: [ledgerProjection({ name: 'shared-ledger', hook: () => appliedBy.push(owner) })],
        });
      const a = make('runner-a');
      const b = make('runner-b');
      owner = 'runner-a';
      await a.start();
      await eventually(() => expect(a.status('shared-ledger').leading).toBe(true));
      await b.start();
      const first = await appendOrders(s.eventStore, 8);
      await a.waitForPosition('shared-ledger', first.position, 10_000);
      await eventually(() => expect(b.status('shared-ledger').status).toBe('standby'));
      expect(b.status('shared-ledger').leading).toBe(false);
      expect(new Set(appliedBy)).toEqual(new Set(['runner-a']));

      await a.stop();
      owner = 'runner-b';
      const second = await appendOrders(s.eventStore, 8);
      await b.waitForPosition('shared-ledger', second.position, 10_000);
      expect(b.status('shared-ledger').leading).toBe(true);
      const all = await ledgers(s, 'shared-ledger');
      expect(all).toHaveLength(16);
      expect(all.every((l) => l.gaps === 0 && l.count === l.lastVersion)).toBe(true);
      expect(appliedBy.length).toBe(first.events + second.events);
    });

    test('replays a time range into a new projection', async () => {
      let now = Date.parse('2025-03-01T00:00:00.000Z');
      const s = await stores(() => new Date(now));
      const day = 24 * 3600 * 1000;
      const inRange: string[] = [];
      for (let i = 0; i < 6; i++) {
        const streamId = uniqueOrderStream();
        await s.eventStore.appendToStream(streamId, [created(streamId.slice(6), 10 * (i + 1))]);
        if (i >= 2 && i < 5) inRange.push(streamId.slice(6));
        now += day;
      }
      const projection = orderSummaryProjection({ name: 'march-orders' });
      const reports: ProjectionProgress[] = [];
      const result = await replayTimeRange({
        eventStore: s.eventStore,
        readModels: s.readModels,
        projection,
        from: '2025-03-03T00:00:00.000Z',
        to: new Date('2025-03-06T00:00:00.000Z'),
        batchSize: 2,
        onProgress: (p) => reports.push(p),
      });
      expect(result.applied).toBe(3);
      expect(reports.at(-1)?.done).toBe(true);
      const ids = (await s.readModels.read('march-orders', (v) => v.collection<OrderSummary>('orders').find())).map((o) => o.orderId);
      expect(ids.sort()).toEqual(inRange.sort());
      await expect(replayTimeRange({ eventStore: s.eventStore, readModels: s.readModels, projection })).rejects.toThrow(/already has a read model/);
      await expect(
        replayTimeRange({ eventStore: s.eventStore, readModels: s.readModels, projection, from: '2025-03-05', to: '2025-03-04' }),
      ).rejects.toThrow(InvalidArgumentError);
      const all = await replayTimeRange({ eventStore: s.eventStore, readModels: s.readModels, projection, replace: true });
      expect(all.applied).toBe(6);
    });
  });
}
