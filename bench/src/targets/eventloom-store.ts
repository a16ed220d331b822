/** Drives any Eventloom `EventStore` (SQLite, PostgreSQL) as a benchmark target, through its public API only. */
import { WrongExpectedVersionError, type EventStore, type ExpectedVersion, type RecordedEvent } from '@eventloom/core';
import type { AppendOutcome, BenchEventInput, BenchTarget, Expectation, LiveSubscription, ReadEvent } from '../target.js';

export function eventloomTarget(store: EventStore, countEvents?: () => Promise<number>): BenchTarget {
  const target: BenchTarget = {
    async append(streamId: string, events: readonly BenchEventInput[], expectation: Expectation, inspect?: (result: unknown) => void): Promise<AppendOutcome> {
      try {
        const result = await store.appendToStream(streamId, events, { expectedVersion: toExpected(expectation) });
        inspect?.(result);
        return { ok: true, nextVersion: result.nextExpectedVersion };
      } catch (error) {
        if (error instanceof WrongExpectedVersionError) return { ok: false, conflict: true };
        throw error;
      }
    },
    async currentVersion(streamId) {
      return (await store.streamInfo(streamId)).version;
    },
    async recordedHead(streamId) {
      return (await store.streamInfo(streamId)).version;
    },
    async readStream(streamId, visit) {
      for await (const event of store.readStream(streamId)) visit(view(event));
    },
    async readAll(batchSize, visit) {
      for await (const event of store.readAll({ batchSize })) visit(view(event));
    },
    // What `loadState` reads of each event (load-state.ts): W5 is the load of an aggregate.
    async foldStream(streamId, visit) {
      // The fields and page size loadState reads with (packages/core/src/commands/load-state.ts).
      for await (const event of store.readStream(streamId, { fields: ['type', 'data', 'metadata', 'streamVersion'], batchSize: 2_000 })) visit(event);
    },
    // What the floor delivers: the position (which W6's distinct check counts) and the data.
    async scanLog(batchSize, visit) {
      for await (const event of store.readAll({ batchSize, fields: ['position', 'data'] })) visit(event);
    },
    async subscribeLive(onEvent): Promise<LiveSubscription> {
      const fromPosition = (await store.headPosition()) + 1n;
      const subscription = store.subscribe({ fromPosition, handler: (event) => onEvent(view(event)) });
      return { stop: () => subscription.stop() };
    },
    close: () => store.close(),
  };
  return countEvents ? { ...target, countEvents } : target;
}

function toExpected(expectation: Expectation): ExpectedVersion {
  switch (expectation.kind) {
    case 'no_stream':
      return 'no_stream';
    case 'any':
      return 'any';
    case 'version':
      return expectation.version;
  }
}

/** Recorded events already have the envelope's field names: no copy, so none is charged to Eventloom. */
function view(event: RecordedEvent): ReadEvent {
  return event;
}
