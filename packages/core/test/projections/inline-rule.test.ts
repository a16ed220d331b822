/** The inline-projection rule every adapter applies (core's inlineGroup / inlineSkip / applyInline), on the memory read-model store. */
import { collect, defineProjection, MemoryEventStore, MemoryReadModelStore, type Event, type RecordedEvent } from '@eventloom/core';
import { applyInline, inlineEventFilter, inlineGroup, inlineSkip, prepareProjection } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';

type Counted = Event<'Counted', { n: number }> | Event<'Ignored', { n: number }>;
const counter = defineProjection<Counted>({
  name: 'counter',
  version: 1,
  categories: ['count'],
  handlers: {
    Counted: async (event, read) => {
      if (event.data.n < 0) throw new RangeError('negative');
      const docs = read.collection<{ total: number }>('totals');
      const total = (await docs.get('all'))?.total ?? 0;
      await docs.upsert('all', { total: total + event.data.n });
    },
  },
});

async function appends(): Promise<RecordedEvent[][]> {
  const store = new MemoryEventStore();
  await store.appendToStream('count-a', [{ type: 'Counted', data: { n: 1 } }]);
  await store.appendToStream('other-a', [{ type: 'Counted', data: { n: 100 } }]);
  await store.appendToStream('count-b', [{ type: 'Ignored', data: { n: 100 } }, { type: 'Counted', data: { n: 2 } }]);
  await store.appendToStream('count-c', [{ type: 'Ignored', data: { n: 100 } }]);
  const all = await collect(store.readAll());
  return [[all[0]!], [all[1]!], [all[2]!, all[3]!], [all[4]!]];
}

describe('the inline-projection rule', () => {
  it('a group: the events it handles per append, from its first one, to the end of the last append it handles', async () => {
    const group = inlineGroup(await appends(), inlineEventFilter(counter))!;
    expect(group.relevant.map((events) => events.map((e) => e.position))).toEqual([[1n], [], [4n], []]);
    expect(group).toMatchObject({ firstIndex: 0, lastIndex: 2, from: 1n, checkpoint: 4n });
    expect(inlineGroup([(await appends())[1]!, (await appends())[3]!], inlineEventFilter(counter))).toBeUndefined();
  });

  it('applies only on top of an up-to-date checkpoint', async () => {
    const group = inlineGroup((await appends()).slice(2), inlineEventFilter(counter))!;
    const none = (): boolean => false;
    expect(inlineSkip(null, group, none)).toBe('missing');
    expect(inlineSkip({ checkpoint: 2n, failedAt: null }, group, none)).toBeUndefined();
    expect(inlineSkip({ checkpoint: null, failedAt: null }, group, (after, before) => after === 0n && before === 4n)).toBe('behind');
    expect(inlineSkip({ checkpoint: 4n, failedAt: null }, group, none)).toBe('behind');
  });

  it('applies the events, moves the checkpoint, clears a failure it passed; a handler error is what the adapter makes of it', async () => {
    const readModels = new MemoryReadModelStore();
    await readModels.transaction((tx) => prepareProjection(tx, counter));
    const group = inlineGroup(await appends(), inlineEventFilter(counter))!;
    await readModels.transaction(async (tx) => {
      await tx.setFailure('counter@1', { position: 3n, eventId: 'e', eventType: 'Counted', streamId: 'count-b', error: 'RangeError: x', stack: null, attempts: 1, failedAt: new Date(0).toISOString() });
      await applyInline(tx, counter, group, { checkpoint: null, failedAt: 3n }, (_, cause) => cause);
    });
    const state = await readModels.transaction((tx) => tx.getState('counter@1'));
    expect(state).toMatchObject({ checkpoint: 4n, failure: null });
    expect(await readModels.read('counter', (v) => v.collection<{ total: number }>('totals').get('all'))).toEqual({ total: 3 });

    const store = new MemoryEventStore();
    await store.appendToStream('count-z', [{ type: 'Counted', data: { n: 1 } }]);
    await store.appendToStream('count-z', [{ type: 'Counted', data: { n: -1 } }]);
    const bad = inlineGroup((await collect(store.readAll())).map((e) => [e]), inlineEventFilter(counter))!;
    const failed = readModels.transaction((tx) => applyInline(tx, counter, bad, { checkpoint: null, failedAt: null }, (index, cause) => ({ index, cause })));
    await expect(failed).rejects.toMatchObject({ index: 1, cause: new RangeError('negative') });
    expect(await readModels.read('counter', (v) => v.collection<{ total: number }>('totals').get('all'))).toEqual({ total: 3 });
  });
});
