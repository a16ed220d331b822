import {
  AggregateRoot,
  aggregateDecider,
  collect,
  CommandHandler,
  ConcurrencyRetriesExhaustedError,
  loadState,
  MemoryEventStore,
  MemorySnapshotStore,
  WrongExpectedVersionError,
  type Command,
  type Decider,
  type Event,
} from '@eventloom/core';
import { describe, expect, it } from 'vitest';

type Deposited = Event<'Deposited', { amount: number }>;
type Withdrawn = Event<'Withdrawn', { amount: number }>;
type AccountEvent = Deposited | Withdrawn;
type Deposit = Command<'Deposit', { amount: number }>;
type Withdraw = Command<'Withdraw', { amount: number }>;
type AccountCommand = Deposit | Withdraw;

class InsufficientFunds extends Error {}

const account: Decider<AccountCommand, AccountEvent, { balance: number }> = {
  initialState: () => ({ balance: 0 }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'Deposited':
        return { balance: state.balance + event.data.amount };
      case 'Withdrawn':
        return { balance: state.balance - event.data.amount };
      default:
        return state;
    }
  },
  decide: (command, state) => {
    if (command.type === 'Deposit') return [{ type: 'Deposited', data: { amount: command.data.amount } }];
    if (command.data.amount > state.balance) throw new InsufficientFunds(`balance ${state.balance}`);
    if (command.data.amount === 0) return [];
    return { type: 'Withdrawn', data: { amount: command.data.amount } };
  },
};

const deposit = (amount: number, extra: Partial<Deposit> = {}): Deposit => ({ type: 'Deposit', data: { amount }, ...extra });

describe('CommandHandler', () => {
  it('loads, decides and appends; events carry the command id as causation and its correlation id', async () => {
    const store = new MemoryEventStore();
    const handler = new CommandHandler(store, account);
    await handler.handle('account-1', deposit(10));
    const result = await handler.handle(
      'account-1',
      deposit(5, { id: '018f0000-0000-7000-8000-000000000001', correlationId: 'conv-1', metadata: { userId: 'u1' } }),
    );
    expect(result.state).toEqual({ balance: 15 });
    expect(result.nextExpectedVersion).toBe(2n);
    expect(result.attempts).toBe(1);
    const events = await collect(store.readStream('account-1'));
    expect(events[1]).toMatchObject({
      causationId: '018f0000-0000-7000-8000-000000000001',
      correlationId: 'conv-1',
      metadata: { userId: 'u1' },
    });
    expect(result.position).toBe(events[1]!.position);
  });

  it('gives a command without id a generated one, used as causation and correlation', async () => {
    const store = new MemoryEventStore();
    await new CommandHandler(store, account).handle('account-1', deposit(1));
    const [event] = await collect(store.readStream('account-1'));
    expect(event!.causationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event!.correlationId).toBe(event!.causationId);
  });

  it('appends nothing when decide returns no events, and lets domain errors through untouched', async () => {
    const store = new MemoryEventStore();
    const handler = new CommandHandler(store, account);
    await handler.handle('account-1', deposit(3));
    const noop = await handler.handle('account-1', { type: 'Withdraw', data: { amount: 0 } });
    expect(noop).toMatchObject({ events: [], position: null, nextExpectedVersion: 1n });
    await expect(handler.handle('account-1', { type: 'Withdraw', data: { amount: 50 } })).rejects.toBeInstanceOf(InsufficientFunds);
    expect(await collect(store.readStream('account-1'))).toHaveLength(1);
  });

  it('re-decides on fresh state after conflicts: 16 concurrent commands all land', async () => {
    const store = new MemoryEventStore();
    const handler = new CommandHandler(store, account, { retry: { maxAttempts: 50, baseDelayMs: 1, maxDelayMs: 5 } });
    const results = await Promise.all(Array.from({ length: 16 }, () => handler.handle('account-1', deposit(1))));
    const events = await collect(store.readStream('account-1'));
    expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 16 }, (_, i) => BigInt(i + 1)));
    expect(results.some((r) => r.attempts > 1)).toBe(true);
    expect((await loadState(store, 'account-1', account)).state.balance).toBe(16);
  });

  it('gives up after the bounded number of attempts with a dedicated error', async () => {
    const store = new MemoryEventStore();
    let decisions = 0;
    // Every decision is overtaken by another writer before it can append.
    const contended: Decider<Deposit, Deposited, number> = {
      initialState: () => 0,
      evolve: (n) => n + 1,
      decide: () => {
        decisions++;
        void store.appendToStream('account-hot', [{ type: 'Deposited', data: { amount: 0 } }]);
        return [{ type: 'Deposited', data: { amount: 1 } }];
      },
    };
    const handler = new CommandHandler(store, contended, { retry: { maxAttempts: 3, baseDelayMs: 1 } });
    const error = await handler.handle('account-hot', deposit(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyRetriesExhaustedError);
    expect(error).toMatchObject({ attempts: 3, streamId: 'account-hot', code: 'CONCURRENCY_RETRIES_EXHAUSTED' });
    expect((error as Error).cause).toBeInstanceOf(WrongExpectedVersionError);
    expect(decisions).toBe(3);
  });

  it("does not retry when the caller gave the expected version: the caller's view is stale", async () => {
    const store = new MemoryEventStore();
    const handler = new CommandHandler(store, account);
    await handler.handle('account-1', deposit(1));
    await handler.handle('account-1', deposit(1));
    await expect(handler.handle('account-1', deposit(1), { expectedVersion: 1n })).rejects.toBeInstanceOf(
      WrongExpectedVersionError,
    );
    expect((await handler.handle('account-1', deposit(1), { expectedVersion: 2n })).nextExpectedVersion).toBe(3n);
  });
});

describe('snapshots', () => {
  it('takes one every N events and loads from it, reading only the events after it', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const policy = { store: snapshots, every: 5, schemaVersion: 1 };
    const handler = new CommandHandler(store, account, { snapshots: policy });
    for (let i = 0; i < 12; i++) await handler.handle('account-1', deposit(1));
    const snapshot = await snapshots.load<{ balance: number }>('account-1');
    expect(snapshot).toMatchObject({ version: 10n, schemaVersion: 1, state: { balance: 10 } });
    const loaded = await loadState(store, 'account-1', account, { snapshots: policy });
    expect(loaded).toMatchObject({ state: { balance: 12 }, version: 12n, eventsRead: 2, snapshotVersion: 10n });
  });

  it('ignores a snapshot of another state schema version and replays the whole stream', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const handler = new CommandHandler(store, account, { snapshots: { store: snapshots, every: 2, schemaVersion: 1 } });
    for (let i = 0; i < 4; i++) await handler.handle('account-1', deposit(2));
    const loaded = await loadState(store, 'account-1', account, { snapshots: { store: snapshots, every: 2, schemaVersion: 2 } });
    expect(loaded).toMatchObject({ state: { balance: 8 }, eventsRead: 4, snapshotVersion: null });
  });
});

describe('temporal queries', () => {
  it('answers the state as of a version and as of a time', async () => {
    let now = new Date('2026-03-01T10:00:00.000Z');
    const store = new MemoryEventStore({ clock: () => now });
    const snapshots = new MemorySnapshotStore();
    const handler = new CommandHandler(store, account, { snapshots: { store: snapshots, every: 2, schemaVersion: 1 } });
    await handler.handle('account-1', deposit(10));
    now = new Date('2026-03-02T10:00:00.000Z');
    await handler.handle('account-1', deposit(20));
    now = new Date('2026-03-03T10:00:00.000Z');
    await handler.handle('account-1', { type: 'Withdraw', data: { amount: 5 } });
    expect((await loadState(store, 'account-1', account, { toVersion: 2n })).state.balance).toBe(30);
    expect((await loadState(store, 'account-1', account, { toVersion: 1 })).state.balance).toBe(10);
    expect((await loadState(store, 'account-1', account, { asOf: '2026-03-02T12:00:00Z' })).state.balance).toBe(30);
    expect((await loadState(store, 'account-1', account, { asOf: new Date('2026-03-01T09:00:00Z') })).version).toBe(0n);
    // A later snapshot must not leak into an earlier point in time.
    const policy = { store: snapshots, every: 2, schemaVersion: 1 };
    expect((await loadState(store, 'account-1', account, { snapshots: policy, toVersion: 1n })).state.balance).toBe(10);
  });
});

type Opened = Event<'Opened', { name: string }>;
type Renamed = Event<'Renamed', { name: string }>;
type BoxEvent = Opened | Renamed;

class Box extends AggregateRoot<BoxEvent> {
  name = '';
  applied = 0;
  open(name: string): void {
    this.raise({ type: 'Opened', data: { name } });
  }
  rename(name: string): void {
    if (!this.name) throw new Error('not open');
    this.raise({ type: 'Renamed', data: { name } });
    this.raise({ type: 'Renamed', data: { name: `${name}!` } });
  }
  protected apply(event: BoxEvent): void {
    this.applied++;
    this.name = event.data.name;
  }
}

describe('class aggregates', () => {
  const boxes = aggregateDecider<Box, BoxEvent, Command<'Open' | 'Rename', { name: string }>>(
    () => new Box(),
    (box, command) => (command.type === 'Open' ? box.open(command.data.name) : box.rename(command.data.name)),
  );

  it('are served by the same command handler, each event applied exactly once', async () => {
    const store = new MemoryEventStore();
    const handler = new CommandHandler(store, boxes);
    await handler.handle('box-1', { type: 'Open', data: { name: 'a' } });
    const result = await handler.handle('box-1', { type: 'Rename', data: { name: 'b' } });
    expect(result.state.name).toBe('b!');
    expect(result.state.applied).toBe(3);
    expect(result.state.version).toBe(3n);
    expect(result.state.pendingEvents).toHaveLength(0);
    const loaded = await loadState(store, 'box-1', boxes);
    expect(loaded.state).toMatchObject({ name: 'b!', applied: 3 });
    expect(loaded.state.version).toBe(3n);
  });

  it('with snapshots, the types ask for toSnapshot and fromSnapshot, and the handler refuses a policy without them', () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    // @ts-expect-error a class aggregate is not JSON: the policy needs its codec
    expect(() => new CommandHandler(store, boxes, { snapshots: { store: snapshots, every: 2, schemaVersion: 1 } })).toThrow(
      /toSnapshot and fromSnapshot/,
    );
    const codec = { toSnapshot: (box: Box) => ({ name: box.name }), fromSnapshot: (json: unknown) => Object.assign(new Box(), json) };
    expect(new CommandHandler(store, boxes, { snapshots: { store: snapshots, every: 2, schemaVersion: 1, ...codec } })).toBeInstanceOf(CommandHandler);
  });
});
