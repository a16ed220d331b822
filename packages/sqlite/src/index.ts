/** @eventloom/sqlite: the embedded default — an event store, checkpoints and snapshots in one SQLite file. */
export { openSqliteEventStore, SqliteEventStore, type SqliteEventStoreOptions } from './sqlite-event-store.js';
export type { InlineHandler } from './append.js';
export type { GroupCommitStats } from './group-commit.js';
export { BUSY_TIMEOUT_MS, type Durability, type SqliteDatabase } from './open-database.js';
export { migrate, schemaVersion, LATEST_SCHEMA_VERSION } from './migrate.js';
export { MIGRATIONS, type Migration } from './sql/migrations.js';
export { SqliteSnapshotStore } from './snapshot-store.js';
export * from './projections/index.js';
export { openSqliteTransport, SqliteTransport, type SqliteTransportOptions } from './messaging/sqlite-transport.js';
export { SqliteTransportDriver, QUEUE_POLL_MS, type SqliteTransportDriverOptions } from './messaging/sqlite-transport-driver.js';
export type { QueueWriterStats } from './messaging/queue-writer.js';
export { openSqliteOutbox, SqliteOutbox, type SqliteOutboxOptions } from './messaging/outbox.js';
export { openSqliteInbox, SqliteInbox, type SqliteInboxOptions } from './messaging/inbox.js';
