/**
 * @eventloom/core/adapter: the building blocks for writing a store adapter (see docs/adapters.md).
 * Applications do not need these; each one holds a rule every adapter must apply the same way,
 * so it is written once here.
 */

// Input rules: the checks every store runs before it touches storage.
export { assertCategory, assertStreamId } from './envelope/stream-id.js';
export { assertJson } from './envelope/json.js';
export { unstorableText } from './envelope/text.js';
export { describeValue } from './envelope/describe-value.js';
export { assertSubscriptionId, normalizeCheckpoint } from './event-store/checkpoint.js';

// Appending: validation and envelope building, expected-version checks.
export { prepareAppend, prepareAppendSync, type PreparedAppend, type PreparedEvent } from './event-store/prepare-append.js';
export {
  normalizeExpectedVersion,
  checkExpectedVersion,
  expectationHolds,
  retryMatchesExpectation,
  type StreamState,
} from './event-store/expected-version.js';
export { AppendSignal } from './event-store/append-signal.js';

// Reading: option normalization, the log filter, what a stream shows under its metadata.
export {
  normalizeBatchSize,
  normalizeMaxCount,
  normalizeVersion,
  normalizePosition,
  normalizeOptions,
  normalizeFilter,
  matchesFilter,
} from './event-store/read-options.js';
export { normalizeFields, type FieldSelection } from './event-store/fields.js';
export {
  normalizeStreamMetadata,
  firstVisibleVersion,
  oldestVisibleTime,
  softDeletedMetadata,
  serializeStreamMetadata,
  deserializeStreamMetadata,
} from './event-store/stream-metadata.js';

// Schema migrations: ordered versions, newer storage refused, each step recorded.
export {
  MigrationPlan,
  runMigrations,
  runMigrationsAsync,
  type AsyncMigrationStorage,
  type MigrationStorage,
  type VersionedMigration,
} from './event-store/migrations.js';

// Subscriptions and consumer groups: the loop, leases, dead letters, group members.
export { startSubscription, checkSubscribeOptions, abortableSleep, type SubscriptionSource, type InternalSubscribeOptions } from './subscriptions/subscription.js';
export { MemorySubscriptionDeadLetters, checkDeadLetterKey } from './subscriptions/dead-letters.js';
export { MemoryLeaseStore, type LeaseInfo, type LeaseStore } from './subscriptions/lease.js';
export {
  startGroupMember,
  groupIntegerOption,
  groupNameOption,
  groupSubscribeOptions,
  reportGroupError,
  retryPartitionsDeadLetters,
  waitForPartitions,
  type GroupSubscriptionSource,
} from './subscriptions/consumer-group.js';

// Read models: names, documents, queries, checkpoints, and the projection batch.
export { collectionName } from './projections/collection.js';
export { projectionNamespace, type ProjectionNamespace } from './projections/namespace.js';
export { assertCollectionName, assertDocumentId, serializeDocument } from './projections/documents.js';
export {
  compareCodePoints,
  compareValues,
  encodeCursor,
  evaluateQuery,
  KIND_RANK,
  normalizeQuery,
  positionOf,
  type CursorPosition,
  type KindRank,
  type NormalizedCondition,
  type NormalizedQuery,
  type NormalizedSort,
  type SortKey,
} from './projections/query.js';
export { waitForCheckpoint, type CheckpointSnapshot, type CheckpointSource } from './projections/wait-for-position.js';
export { resolveReadTarget, type ReadTarget } from './projections/read-target.js';
export { prepareProjection, type PreparedProjection, type PrepareOptions } from './projections/prepare.js';
export { applyBatch, HandlerFailure, type BatchOptions } from './projections/apply-batch.js';
export { applyInline, inlineEventFilter, inlineGroup, inlineSkip, type InlineGroup, type InlineSkip, type InlineState } from './projections/inline.js';
export { assertLeaseArguments } from './projections/memory/memory-read-model-store.js';

// Messaging: the consumer engine over a transport driver, the name and input rules, the CloudEvents codec.
export { createTransport, DEFAULT_SOURCE } from './messaging/create-transport.js';
export { checkPollIntervalMs, DrivenTransport, MAX_POLL_INTERVAL_MS, requireOneOf, splitTransportOptions } from './messaging/driven-transport.js';
export type { DeadLetterDraft, PreparedMessage, ReceivedMessage, Receiver, ReceiverOptions, TransportDriver } from './messaging/driver.js';
export { assertDestinationName, assertConsumeSource, consumerName, sourceKey } from './messaging/names.js';
export { prepareMessages, type CausingEnvelope, type PrepareMessagesOptions } from './messaging/prepare.js';
export {
  encodeMessage,
  decodeMessage,
  headerValue,
  CLOUD_EVENT_ATTRIBUTES,
  MAX_MESSAGE_BYTES,
  type CloudEventsMode,
  type EncodedMessage,
  type EncodeOptions,
} from './messaging/codec.js';
export { checkDeadLetterFilter, matchesDeadLetter } from './messaging/dead-letter-filter.js';
export { isTransientTransportError } from './messaging/consumer/transient.js';
export { MemoryTransportDriver } from './messaging/memory/memory-transport.js';

// The outbox and the inbox: what a store supplies, and the shared checks and relay loop.
export {
  assertOutboxName,
  decodeStoredOutboxMessage,
  encodeStoredOutboxMessage,
  outgoingFromStored,
  prepareOutboxMessages,
  type OutboxRecord,
  type OutboxStorage,
  type StoredOutboxMessage,
} from './messaging/outbox/outbox.js';
export { relayOutbox } from './messaging/outbox/outbox-relay.js';
export { assertInboxConsumer, assertInboxHandler, assertInboxMessage, checkRetention, pruneCutoff, startPeriodicPrune } from './messaging/inbox/inbox.js';
