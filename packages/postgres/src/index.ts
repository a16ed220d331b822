/** @eventloom/postgres: the event store on PostgreSQL, for many processes and machines. */
export {
  MIN_POSITION_HEADROOM,
  openPostgresEventStore,
  PostgresEventStore,
  type InlineHandler,
  type InlineSkipped,
  type PostgresAppendResult,
} from './postgres-event-store.js';
export type { PostgresEventStoreOptions } from './options.js';
export type {
  ConsumerGroupOptions,
  ConsumerGroupMember,
  ConsumerGroupHandlerContext,
  ResizeConsumerGroupOptions,
  ResizeConsumerGroupResult,
} from './consumer-group.js';
export { dropPostgresEventStore } from './drop.js';
export { migrate, type MigrationReport } from './migrate.js';
export { MIGRATIONS, type Migration } from './sql/migrations.js';
export { namesFor, quoteIdent, type StoreNames } from './names.js';
export * from './projections/index.js';
export * from './messaging/index.js';
export { openPostgresOutbox, PostgresOutbox, type PostgresOutboxOptions } from './messaging/outbox.js';
export { openPostgresInbox, PostgresInbox, type PostgresInboxOptions } from './messaging/inbox.js';
