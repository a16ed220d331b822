/**
 * Time: recorded time never goes backwards within a stream, and the time-based queries
 * (`loadState({ asOf })`, `replayTimeRange`) follow one rule, so they agree on what happened when.
 */
import {
  collect,
  defineProjection,
  loadState,
  MemoryEventStore,
  MemoryReadModelStore,
  replayTimeRange,
  type Event,
  type EventStore,
  EVENT_FIELDS,
  type EventField,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
} from '@eventloom/core';
import { describe, expect, it } from 'vitest';

type Deposited = Event<'Deposited', { amount: number }>;

const balance = {
  initialState: () => 0,
  evolve: (state: number, event: RecordedEvent<Deposited>) => state + event.data.amount,
};

const total = defineProjection<Deposited>({
  name: 'total',
  version: 1,
  handlers: {
    Deposited: async (event, read) => {
      const totals = read.collection<{ sum: number }>('totals');
      await totals.upsert('all', { sum: ((await totals.get('all'))?.sum ?? 0) + event.data.amount });
    },
  },
});

/** The balance by `replayTimeRange` over everything recorded at or before `asOf`. */
async function replayedBalance(eventStore: EventStore, asOf: string): Promise<number> {
  const readModels = new MemoryReadModelStore();
  const to = new Date(Date.parse(asOf) + 1); // `to` is exclusive, `asOf` inclusive; times have milliseconds
  await replayTimeRange({ eventStore, readModels, projection: total, to });
  return readModels.read('total', async (view) => (await view.collection<{ sum: number }>('totals').get('all'))?.sum ?? 0);
}

/** A store with a clock that goes back an hour between the first and second deposit. */
async function storeWithClockSetBack(): Promise<MemoryEventStore> {
  let now = Date.parse('2026-03-01T12:00:00.000Z');
  const store = new MemoryEventStore({ clock: () => new Date(now) });
  await store.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 1 } }]);
  now = Date.parse('2026-03-01T11:00:00.000Z');
  await store.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 10 } }]);
  now = Date.parse('2026-03-01T12:30:00.000Z');
  await store.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 100 } }]);
  return store;
}

/** Shows a store's events with the given recorded times: data written before times were clamped. */
function withTimes(store: EventStore, times: readonly string[]): EventStore {
  // Times are found by position: the underlying read is whole, and `fields` are picked after.
  const retimed = async function* (events: AsyncIterable<RecordedEvent>, fields: readonly EventField[] | undefined) {
    for await (const event of events) {
      const shown: RecordedEvent = { ...event, time: times[Number(event.position) - 1]! };
      yield fields ? Object.fromEntries(EVENT_FIELDS.filter((f) => fields.includes(f)).map((f) => [f, shown[f]])) : shown;
    }
  };
  return Object.assign(Object.create(store) as EventStore, {
    readStream: ((streamId: string, options?: ReadStreamOptions) =>
      retimed(store.readStream(streamId, { ...options, fields: undefined }), options?.fields)) as EventStore['readStream'],
    readAll: ((options?: ReadAllOptions) => retimed(store.readAll({ ...options, fields: undefined }), options?.fields)) as EventStore['readAll'],
    headPosition: () => store.headPosition(),
  });
}

describe('recorded time', () => {
  it("never goes backwards within a stream: a clock set back records the stream's last time", async () => {
    const store = await storeWithClockSetBack();
    const times = (await collect(store.readStream('acct-1'))).map((e) => e.time);
    expect(times).toEqual(['2026-03-01T12:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T12:30:00.000Z']);
  });

  it('is not held back by other streams', async () => {
    let now = Date.parse('2026-03-01T12:00:00.000Z');
    const store = new MemoryEventStore({ clock: () => new Date(now) });
    await store.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 1 } }]);
    now -= 60_000;
    const result = await store.appendToStream('acct-2', [{ type: 'Deposited', data: { amount: 1 } }]);
    expect(result.events[0]!.time).toBe('2026-03-01T11:59:00.000Z');
  });

  it('gives loadState({ asOf }) and replayTimeRange the same answer at every instant', async () => {
    const store = await storeWithClockSetBack();
    for (const asOf of ['2026-03-01T11:00:00.000Z', '2026-03-01T11:30:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T12:30:00.000Z']) {
      const loaded = await loadState(store, 'acct-1', balance, { asOf });
      expect({ asOf, balance: loaded.state }).toEqual({ asOf, balance: await replayedBalance(store, asOf) });
    }
    expect((await loadState(store, 'acct-1', balance, { asOf: '2026-03-01T12:00:00.000Z' })).state).toBe(11);
  });

  it('keeps the two in agreement on events recorded before times were clamped (out of order)', async () => {
    const legacy = withTimes(await storeWithClockSetBack(), ['2026-03-01T12:00:00.000Z', '2026-03-01T11:00:00.000Z', '2026-03-01T12:30:00.000Z']);
    const asOf = '2026-03-01T11:30:00.000Z';
    const loaded = await loadState(legacy, 'acct-1', balance, { asOf });
    expect(loaded.state).toBe(10); // only the deposit recorded at 11:00
    expect(await replayedBalance(legacy, asOf)).toBe(10);
  });
});
