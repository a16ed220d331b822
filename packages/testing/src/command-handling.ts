/**
 * The command handler's guarantees, run against each store: snapshots never bring hidden events
 * back, a stream whose events are all hidden still takes commands, and a command retried after
 * an unknown outcome (the store failed after committing) is recognised and writes nothing.
 */
import {
  AggregateRoot,
  aggregateDecider,
  collect,
  CommandHandler,
  commandCausedBy,
  InvalidArgumentError,
  loadState,
  MemorySnapshotStore,
  StoreUnavailableError,
  uuidv7,
  type Command,
  type Decider,
  type Event,
  type EventStore,
  type SnapshotStore,
} from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventStoreConformanceOptions, StoreFactoryOptions } from './event-store/context.js';
import { uniqueStream } from './event-store/fixtures.js';

type Deposited = Event<'Deposited', { amount: number }>;
type Withdrawn = Event<'Withdrawn', { amount: number }>;
type AccountEvent = Deposited | Withdrawn;
type AccountCommand = Command<'Deposit' | 'Withdraw', { amount: number }>;

class InsufficientFunds extends Error {}

const account: Decider<AccountCommand, AccountEvent, { balance: number }> = {
  initialState: () => ({ balance: 0 }),
  evolve: (state, event) => ({ balance: state.balance + (event.type === 'Deposited' ? event.data.amount : -event.data.amount) }),
  decide: (command, state) => {
    if (command.type === 'Deposit') return [{ type: 'Deposited', data: { amount: command.data.amount } }];
    if (command.data.amount > state.balance) throw new InsufficientFunds(`balance ${state.balance}`);
    return [{ type: 'Withdrawn', data: { amount: command.data.amount } }];
  },
};

const deposit = (amount: number, extra: Partial<AccountCommand> = {}): AccountCommand => ({ type: 'Deposit', data: { amount }, ...extra });

type Counted = Event<'Counted', { by: number }>;

class Counter extends AggregateRoot<Counted> {
  total = 0;
  add(by: number): void {
    this.raise({ type: 'Counted', data: { by } });
  }
  protected apply(event: Counted): void {
    this.total += event.data.by;
  }
}

const counters = aggregateDecider<Counter, Counted, Command<'Add', { by: number }>>(
  () => new Counter(),
  (counter, command) => counter.add(command.data.by),
);

/** Delegates to `store`; the next `failures` appends commit and then report STORE_UNAVAILABLE, as a lost connection would. */
function failingAfterCommit(store: EventStore, failures: { count: number }): EventStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'appendToStream') {
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return async (...args: Parameters<EventStore['appendToStream']>) => {
        const result = await target.appendToStream(...args);
        if (failures.count > 0) {
          failures.count--;
          throw new StoreUnavailableError('the connection was lost after the commit; the append may or may not have been recorded');
        }
        return result;
      };
    },
  });
}

export function runCommandHandlingConformance(options: EventStoreConformanceOptions): void {
  const cleanups: (() => Promise<void>)[] = [];
  async function open(factoryOptions?: StoreFactoryOptions): Promise<{ store: EventStore; snapshots: SnapshotStore }> {
    const created = await options.create(factoryOptions);
    if (created.cleanup) cleanups.push(created.cleanup);
    const own = (created.store as { snapshots?: SnapshotStore }).snapshots;
    return { store: created.store, snapshots: own ?? new MemorySnapshotStore() };
  }

  describe(`command handling conformance: ${options.name}`, () => {
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    describe('snapshots and hidden events', () => {
      it('a soft delete hides what a snapshot covered: the state is folded from the visible events only', async () => {
        const { store, snapshots } = await open();
        const policy = { store: snapshots, every: 2, schemaVersion: 1 };
        const handler = new CommandHandler(store, account, { snapshots: policy });
        const streamId = uniqueStream('account');
        for (let i = 0; i < 4; i++) await handler.handle(streamId, deposit(5));
        expect(await snapshots.load(streamId)).toMatchObject({ version: 4n, state: { balance: 20 } });
        await store.deleteStream(streamId);
        const result = await handler.handle(streamId, deposit(2));
        expect(result.state).toEqual({ balance: 2 });
        expect(result.nextExpectedVersion).toBe(5n);
        const loaded = await loadState(store, streamId, account, { snapshots: policy });
        expect(loaded).toMatchObject({ state: { balance: 2 }, version: 5n, snapshotVersion: null });
      });

      it('truncateBefore hides what a snapshot covered: the snapshot is not used', async () => {
        const { store, snapshots } = await open();
        const policy = { store: snapshots, every: 4, schemaVersion: 1 };
        const handler = new CommandHandler(store, account, { snapshots: policy });
        const streamId = uniqueStream('account');
        for (let i = 0; i < 5; i++) await handler.handle(streamId, deposit(5));
        await store.setStreamMetadata(streamId, { truncateBefore: 3n });
        const loaded = await loadState(store, streamId, account, { snapshots: policy });
        expect(loaded).toMatchObject({ state: { balance: 15 }, version: 5n, snapshotVersion: null, eventsRead: 3 });
        expect((await handler.handle(streamId, deposit(1))).state).toEqual({ balance: 16 });
      });

      it('class aggregates snapshot through toSnapshot/fromSnapshot, and without them the handler is refused', async () => {
        const { store, snapshots } = await open();
        const streamId = uniqueStream('counter');
        const policy = {
          store: snapshots,
          every: 2,
          schemaVersion: 1,
          toSnapshot: (counter: Counter) => ({ total: counter.total }),
          fromSnapshot: (json: unknown) => Object.assign(new Counter(), json as { total: number }),
        };
        const handler = new CommandHandler(store, counters, { snapshots: policy });
        for (let i = 1; i <= 5; i++) await handler.handle(streamId, { type: 'Add', data: { by: i } });
        expect(await snapshots.load(streamId)).toMatchObject({ version: 4n, state: { total: 10 } });
        const result = await handler.handle(streamId, { type: 'Add', data: { by: 6 } });
        expect(result.state.total).toBe(21);
        expect(result.state.version).toBe(6n);
        expect(result.nextExpectedVersion).toBe(6n);
        expect((await collect(store.readStream(streamId))).length).toBe(6);
        const bare = { store: snapshots, every: 2, schemaVersion: 1 };
        expect(() => new CommandHandler(store, counters, { snapshots: bare as never })).toThrow(InvalidArgumentError);
      });
    });

    describe('streams whose events are all hidden', () => {
      it('after truncateBefore hides every event, a command succeeds on the stream’s real version', async () => {
        const { store } = await open();
        const handler = new CommandHandler(store, account);
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(5));
        await handler.handle(streamId, deposit(5));
        await store.setStreamMetadata(streamId, { truncateBefore: 3n });
        const result = await handler.handle(streamId, deposit(7));
        expect(result).toMatchObject({ state: { balance: 7 }, nextExpectedVersion: 3n, attempts: 1 });
      });

      it('after maxAge hides every event, a command succeeds on the stream’s real version', async () => {
        let now = new Date('2026-05-01T10:00:00.000Z');
        const { store } = await open({ clock: () => now });
        const handler = new CommandHandler(store, account);
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(5));
        await handler.handle(streamId, deposit(5));
        await store.setStreamMetadata(streamId, { maxAgeSeconds: 60 });
        now = new Date('2026-05-01T11:00:00.000Z');
        const result = await handler.handle(streamId, deposit(7));
        expect(result).toMatchObject({ state: { balance: 7 }, nextExpectedVersion: 3n, attempts: 1 });
      });
    });

    describe('retries after an unknown outcome', () => {
      it('a command retried with the same id after STORE_UNAVAILABLE-after-commit returns the earlier result and writes nothing', async () => {
        const { store } = await open();
        const failures = { count: 0 };
        const handler = new CommandHandler(failingAfterCommit(store, failures), account);
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(10));
        failures.count = 1;
        const command: AccountCommand = { type: 'Withdraw', data: { amount: 10 }, id: uuidv7() };
        await expect(handler.handle(streamId, command)).rejects.toBeInstanceOf(StoreUnavailableError);
        // The decision would now fail (balance 0), yet the retry is recognised before deciding.
        const retried = await handler.handle(streamId, command);
        expect(retried.idempotent).toBe(true);
        expect(retried.state).toEqual({ balance: 0 });
        const events = await collect(store.readStream(streamId));
        expect(events.map((e) => e.type)).toEqual(['Deposited', 'Withdrawn']);
        expect(retried.events.map((e) => e.id)).toEqual([events[1]!.id]);
        expect(retried.position).toBe(events[1]!.position);
        expect(retried.nextExpectedVersion).toBe(2n);
        // The same command id a third time: still one copy.
        expect((await handler.handle(streamId, command)).idempotent).toBe(true);
        expect(await collect(store.readStream(streamId))).toHaveLength(2);
      });

      it('is recognised when the first attempt’s events are already covered by a snapshot', async () => {
        const { store, snapshots } = await open();
        const failures = { count: 0 };
        const handler = new CommandHandler(failingAfterCommit(store, failures), account, {
          snapshots: { store: snapshots, every: 3, schemaVersion: 1 },
        });
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(1));
        const command = deposit(4, { id: uuidv7() });
        failures.count = 1;
        await expect(handler.handle(streamId, command)).rejects.toBeInstanceOf(StoreUnavailableError);
        // Another command lands and takes a snapshot that covers the first attempt's event.
        await handler.handle(streamId, deposit(1));
        expect(await snapshots.load(streamId)).toMatchObject({ version: 3n });
        const retried = await handler.handle(streamId, command);
        expect(retried).toMatchObject({ idempotent: true, state: { balance: 6 }, nextExpectedVersion: 3n });
        expect(retried.events.map((e) => e.streamVersion)).toEqual([2n]);
        expect(await collect(store.readStream(streamId))).toHaveLength(3);
      });

      it('a retry older than the handler remembers is refused with a typed error, and writes nothing', async () => {
        const { store, snapshots } = await open();
        const handler = new CommandHandler(store, account, { snapshots: { store: snapshots, every: 2, schemaVersion: 1 } });
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(1));
        const command = deposit(4, { id: uuidv7() });
        await handler.handle(streamId, command);
        for (let i = 0; i < 6; i++) await handler.handle(streamId, deposit(1));
        expect(await snapshots.load(streamId)).toMatchObject({ version: 8n });
        const error = await handler.handle(streamId, command).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toMatch(/handled on .* before.*nothing was written/);
        expect(await collect(store.readStream(streamId))).toHaveLength(8);
      });

      it('the same command sent twice at once is recorded once', async () => {
        const { store } = await open();
        const handler = new CommandHandler(store, account, { retry: { maxAttempts: 10, baseDelayMs: 1 } });
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(1));
        const command = deposit(5, { id: uuidv7() });
        const results = await Promise.all([handler.handle(streamId, command), handler.handle(streamId, command), handler.handle(streamId, command)]);
        const events = await collect(store.readStream(streamId));
        expect(events).toHaveLength(2);
        expect(results.filter((r) => !r.idempotent)).toHaveLength(1);
        expect(results.every((r) => r.events[0]?.id === events[1]!.id)).toBe(true);
      });

      it('commands without an id are not deduplicated: each call is a new command', async () => {
        const { store } = await open();
        const handler = new CommandHandler(store, account);
        const streamId = uniqueStream('account');
        await handler.handle(streamId, deposit(1));
        const again = await handler.handle(streamId, deposit(1));
        expect(again).toMatchObject({ idempotent: false, state: { balance: 2 } });
      });
    });

    describe('the conversation', () => {
      it('event → command → event stays linked: correlation inherited, causation is the message that caused it', async () => {
        const { store } = await open();
        const handler = new CommandHandler(store, account);
        const source = uniqueStream('account');
        const target = uniqueStream('account');
        const first = await handler.handle(source, deposit(3, { correlationId: 'conversation-1' }));
        const cause = first.events[0]!;
        const command = commandCausedBy(cause, deposit(cause.data.amount));
        expect(command).toMatchObject({ causationId: cause.id, correlationId: 'conversation-1' });
        expect(command.id).not.toBe(cause.id);
        const reaction = await handler.handle(target, command);
        const [recorded] = await collect(store.readStream(target));
        expect(recorded).toMatchObject({
          correlationId: 'conversation-1',
          causationId: command.id,
          metadata: { commandCausationId: cause.id },
        });
        expect(reaction.events[0]!.id).toBe(recorded!.id);
      });
    });
  });
}
