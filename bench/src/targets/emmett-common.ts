/** What Emmett's SQLite and PostgreSQL targets share: both stores implement Emmett's `EventStore`. */
import {
  ExpectedVersionConflictError,
  NO_CONCURRENCY_CHECK,
  STREAM_DOES_NOT_EXIST,
  isExpectedVersionConflictError,
  type EventStore,
  type ReadEvent as EmmettReadEvent,
  type ReadEventMetadataWithGlobalPosition,
} from '@event-driven-io/emmett';
import type { AppendOutcome, BenchTarget, Expectation, ReadEvent } from '../target.js';

export type Recorded = EmmettReadEvent<{ type: string; data: Record<string, unknown> }, ReadEventMetadataWithGlobalPosition>;

/** Appends, version look-ups and stream reads through Emmett's own store API. */
export function emmettStreamOps(store: EventStore): Pick<BenchTarget, 'append' | 'currentVersion' | 'readStream'> {
  return {
    async append(streamId, events, expectation): Promise<AppendOutcome> {
      try {
        const result = await store.appendToStream(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data })),
          { expectedStreamVersion: toExpected(expectation) },
        );
        return { ok: true, nextVersion: result.nextExpectedStreamVersion };
      } catch (error) {
        if (isExpectedVersionConflictError(error) || error instanceof ExpectedVersionConflictError) {
          return { ok: false, conflict: true };
        }
        throw error;
      }
    },
    async currentVersion(streamId, known) {
      const result = await store.readStream(streamId, { from: known + 1n });
      return result.events.length > 0 ? result.currentStreamVersion : known;
    },
    async readStream(streamId, visit) {
      const result = await store.readStream(streamId);
      for (const event of result.events) visit(view(event as unknown as Recorded));
    },
  };
}

function toExpected(expectation: Expectation): bigint | typeof STREAM_DOES_NOT_EXIST | typeof NO_CONCURRENCY_CHECK {
  switch (expectation.kind) {
    case 'no_stream':
      return STREAM_DOES_NOT_EXIST;
    case 'any':
      return NO_CONCURRENCY_CHECK;
    case 'version':
      return expectation.version;
  }
}

/** The envelope as every target reports it; PostgreSQL hands positions over as strings. */
export function view(event: Recorded): ReadEvent {
  return {
    id: event.metadata.messageId,
    streamId: event.metadata.streamName,
    streamVersion: BigInt(event.metadata.streamPosition),
    position: BigInt(event.metadata.globalPosition),
    type: event.type,
    data: event.data,
  };
}
