/**
 * Emmett's SQLite store (`@event-driven-io/emmett-sqlite`) configured as its README shows:
 * `getSQLiteEventStore({ fileName })`, which opens a connection per operation. Its connections
 * run WAL with SQLite's default synchronous=FULL, the same durability as the others.
 */
import {
  ExpectedVersionConflictError,
  NO_CONCURRENCY_CHECK,
  STREAM_DOES_NOT_EXIST,
  isExpectedVersionConflictError,
  type ReadEvent as EmmettReadEvent,
  type ReadEventMetadataWithGlobalPosition,
} from '@event-driven-io/emmett';
import { getSQLiteEventStore, readMessagesBatch, sqliteConnection } from '@event-driven-io/emmett-sqlite';
import type { AppendOutcome, BenchTarget, Expectation, ReadEvent, TargetResource } from '../target.js';

type Recorded = EmmettReadEvent<{ type: string; data: Record<string, unknown> }, ReadEventMetadataWithGlobalPosition>;

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'sqlite') throw new Error('emmett-sqlite needs a SQLite resource');
  const store = getSQLiteEventStore({ fileName: resource.filename });
  await store.schema.migrate();
  // Reading the log and inspecting the tables go through a connection of our own, as Emmett's consumer does.
  const connection = sqliteConnection({ fileName: resource.filename });

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
    async recordedHead(streamId) {
      const row = await connection.querySingle<{ stream_position: number | bigint | string }>(
        'SELECT stream_position FROM emt_streams WHERE stream_id = ?',
        [streamId],
      );
      return row ? BigInt(row.stream_position) : 0n;
    },
    async readStream(streamId, visit) {
      const result = await store.readStream(streamId);
      for (const event of result.events) visit(view(event as Recorded));
    },
    async readAll(batchSize, visit) {
      let after = 0n;
      for (;;) {
        const batch = await readMessagesBatch(connection, { after, batchSize });
        for (const event of batch.messages) visit(view(event as Recorded));
        if (!batch.areEventsLeft) return;
        after = batch.currentGlobalPosition;
      }
    },
    async countEvents() {
      const row = await connection.querySingle<{ n: number }>('SELECT count(*) AS n FROM emt_messages');
      return Number(row?.n ?? 0);
    },
    async close() {
      connection.close();
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

function view(event: Recorded): ReadEvent {
  return {
    id: event.metadata.messageId,
    streamId: event.metadata.streamName,
    streamVersion: event.metadata.streamPosition,
    position: event.metadata.globalPosition,
    type: event.type,
    data: event.data,
  };
}
