/** Reads with `fields`: their types, and what core's own loads ask for. */
import {
  AggregateRoot,
  aggregateDecider,
  collect,
  CommandHandler,
  loadState,
  MemoryEventStore,
  MemorySnapshotStore,
  type Command,
  type Decider,
  type Event,
  type EventStore,
  type ReadStreamOptions,
} from '@eventloom/core';
import { describe, expect, expectTypeOf, it } from 'vitest';

type Opened = Event<'Opened', { owner: string }>;
type Deposited = Event<'Deposited', { amount: number }>;
type AccountEvent = Opened | Deposited;

const account: Decider<Command<'Deposit', { amount: number }>, AccountEvent, number> = {
  initialState: () => 0,
  evolve: (balance, event) => (event.type === 'Deposited' ? balance + event.data.amount : balance),
  decide: (command) => [{ type: 'Deposited', data: { amount: command.data.amount } }],
};

/** `store`, recording the options of every readStream. */
function recording(store: EventStore): { store: EventStore; reads: (ReadStreamOptions | undefined)[] } {
  const reads: (ReadStreamOptions | undefined)[] = [];
  const readStream = ((streamId: string, options?: ReadStreamOptions) => {
    reads.push(options);
    return store.readStream(streamId, options);
  }) as EventStore['readStream'];
  const spy = new Proxy(store, {
    get(target, key) {
      if (key === 'readStream') return readStream;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: spy, reads };
}

describe('reads with fields: types', () => {
  it('yield a discriminated union of the picked fields; without fields, whole events', async () => {
    const store = new MemoryEventStore();
    await store.appendToStream<AccountEvent>('acct-1', [{ type: 'Opened', data: { owner: 'ann' } }, { type: 'Deposited', data: { amount: 5 } }]);
    let total = 0;
    for await (const event of store.readStream<AccountEvent, 'type' | 'data'>('acct-1', { fields: ['type', 'data'] })) {
      expectTypeOf(event).toEqualTypeOf<{ readonly type: 'Opened'; readonly data: { owner: string } } | { readonly type: 'Deposited'; readonly data: { amount: number } }>();
      if (event.type === 'Deposited') total += event.data.amount;
      // @ts-expect-error not asked for, so not there
      void event.position;
    }
    expect(total).toBe(5);
    const [first] = await collect(store.readAll({ fields: ['position', 'type'] }));
    expectTypeOf(first!).toEqualTypeOf<{ readonly position: bigint; readonly type: string }>();
    expect(first).toEqual({ position: 1n, type: 'Opened' });
    const [whole] = await collect(store.readCategory<AccountEvent>('acct'));
    expectTypeOf(whole!.causationId).toEqualTypeOf<string | null>();
    // Naming the event type but not the fields' cannot type the read as whole events: any field may be absent.
    for await (const event of store.readStream<AccountEvent>('acct-1', { fields: ['type'] })) {
      expectTypeOf(event.position).toEqualTypeOf<bigint | undefined>();
      expect(Object.keys(event)).toEqual(['type']);
    }
  });
});

describe("core's loads ask only for what the fold uses", () => {
  it('loadState: type, data, metadata, version; the time too for asOf; the snapshot check the version alone', async () => {
    const memory = new MemoryEventStore();
    await new CommandHandler(memory, account).handle('acct-1', { type: 'Deposit', data: { amount: 3 } });
    const { store, reads } = recording(memory);
    expect((await loadState(store, 'acct-1', account)).state).toBe(3);
    expect((await loadState(store, 'acct-1', account, { asOf: new Date(Date.now() + 60_000) })).state).toBe(3);
    expect(reads.map((r) => r?.fields)).toEqual([
      ['type', 'data', 'metadata', 'streamVersion'],
      ['type', 'data', 'metadata', 'streamVersion', 'time'],
    ]);
    // A load reads the whole stream: pages of 2,000, not the default 500.
    expect(reads.map((r) => r?.batchSize)).toEqual([2_000, 2_000]);
    const snapshots = new MemorySnapshotStore();
    await snapshots.save({ streamId: 'acct-1', version: 1n, schemaVersion: 1, state: 3, time: new Date().toISOString() });
    reads.length = 0;
    const loaded = await loadState(store, 'acct-1', account, { snapshots: { store: snapshots, every: 10, schemaVersion: 1 } });
    expect(loaded).toMatchObject({ state: 3, snapshotVersion: 1n });
    expect(reads.map((r) => r?.fields)).toEqual([['streamVersion'], ['type', 'data', 'metadata', 'streamVersion']]);
    expect(reads.map((r) => r?.batchSize)).toEqual([1, 2_000]);
  });

  it('the command handler folds narrow events, and reads whole ones for a command with an id (it may return them)', async () => {
    const memory = new MemoryEventStore();
    const { store, reads } = recording(memory);
    const handler = new CommandHandler(store, account);
    await handler.handle('acct-2', { type: 'Deposit', data: { amount: 1 } });
    expect(reads.at(-1)?.fields).toEqual(['type', 'data', 'metadata', 'streamVersion']);
    const first = await handler.handle('acct-2', { type: 'Deposit', data: { amount: 2 }, id: 'cmd-1' });
    expect(reads.at(-1)?.fields).toBeUndefined();
    const again = await handler.handle('acct-2', { type: 'Deposit', data: { amount: 2 }, id: 'cmd-1' });
    expect(again).toMatchObject({ idempotent: true, state: 3 });
    expect(again.events).toEqual(first.events);
  });

  it('an aggregate root is folded from narrow events and keeps its version', async () => {
    class Account extends AggregateRoot<AccountEvent> {
      balance = 0;
      deposit(amount: number): void {
        this.raise({ type: 'Deposited', data: { amount } });
      }
      protected apply(event: AccountEvent): void {
        if (event.type === 'Deposited') this.balance += event.data.amount;
      }
    }
    const store = new MemoryEventStore();
    const handler = new CommandHandler(
      store,
      aggregateDecider(
        () => new Account(),
        (a: Account, c: Command<'Deposit', { amount: number }>) => a.deposit(c.data.amount),
      ),
    );
    await handler.handle('acct-3', { type: 'Deposit', data: { amount: 4 } });
    const result = await handler.handle('acct-3', { type: 'Deposit', data: { amount: 6 } });
    expect(result.state.balance).toBe(10);
    expect(result.state.version).toBe(2n);
  });
});
