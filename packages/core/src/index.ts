/** @eventloom/core: the envelope, errors, the EventStore contract and its in-memory store, deciders. */
export * from './envelope/errors.js';
export * from './envelope/event.js';
export * from './envelope/command.js';
export * from './event-store/event-store.js';
export { uuidv7, isUuid } from './envelope/uuid.js';
export { assertCategory, assertStreamId, categoryOf, streamIdOf, MAX_STREAM_ID_LENGTH } from './envelope/stream-id.js';
export { assertJson, checkJson, MAX_JSON_DEPTH, MAX_EVENT_BYTES, type JsonCheck } from './envelope/json.js';
export { unstorableText } from './envelope/text.js';
export { describeValue } from './envelope/describe-value.js';
export { assertSubscriptionId, normalizeCheckpoint, MAX_SUBSCRIPTION_ID_LENGTH } from './event-store/checkpoint.js';
export {
  normalizeExpectedVersion,
  checkExpectedVersion,
  expectationHolds,
  retryMatchesExpectation,
  MAX_VERSION,
  type StreamState,
} from './event-store/expected-version.js';
export { prepareAppend, prepareAppendSync, MAX_EVENT_TYPE_LENGTH, MAX_SCHEMA_VERSION, type PreparedAppend, type PreparedEvent } from './event-store/prepare-append.js';
export { SchemaRegistry, type Upcaster } from './schemas/schema-registry.js';
export {
  normalizeStreamMetadata,
  firstVisibleVersion,
  oldestVisibleTime,
  serializeStreamMetadata,
  deserializeStreamMetadata,
} from './event-store/stream-metadata.js';
export {
  DEFAULT_BATCH_SIZE,
  MAX_BATCH_SIZE,
  normalizeBatchSize,
  normalizeMaxCount,
  normalizeVersion,
  normalizePosition,
  normalizeOptions,
  MAX_POSITION,
  normalizeFilter,
  matchesFilter,
} from './event-store/read-options.js';
export { AppendSignal } from './event-store/append-signal.js';
export { startSubscription, checkSubscribeOptions, sleep, type SubscriptionSource, type InternalSubscribeOptions } from './subscriptions/subscription.js';
export type { SubscriptionEvent, SubscriptionFailure, SubscriptionLogger } from './subscriptions/events.js';
export {
  MemorySubscriptionDeadLetters,
  checkDeadLetterKey,
  type SubscriptionDeadLetter,
  type SubscriptionDeadLetters,
} from './subscriptions/dead-letters.js';
export { MemoryLeaseStore, type LeaseInfo, type LeaseStore } from './subscriptions/lease.js';
export type { ConsumerGroupHandlerContext, ConsumerGroupMember, ConsumerGroupOptions } from './subscriptions/group.js';
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
export { partitionOf } from './subscriptions/partition.js';
export { resolveFailurePolicy, type ResolvedFailurePolicy } from './subscriptions/policy.js';
export { MemoryEventStore, type MemoryEventStoreOptions } from './event-store/memory-event-store.js';
export { MemorySnapshotStore, type Snapshot, type SnapshotStore } from './commands/snapshot-store.js';
export { collect } from './event-store/collect.js';
export { fold, decisionEvents, type Decider } from './commands/decider.js';
export { AggregateRoot, aggregateDecider } from './commands/aggregate-root.js';
export { resolveRetryPolicy, backoffDelay, type RetryPolicy, type ResolvedRetryPolicy } from './commands/retry-policy.js';
export {
  loadState,
  type LoadedState,
  type LoadStateOptions,
  type SnapshotCodec,
  type SnapshotPolicy,
  type SnapshotSchedule,
} from './commands/load-state.js';
export {
  CommandHandler,
  type CommandHandlerOptions,
  type CommandResult,
  type HandleOptions,
} from './commands/command-handler.js';
export { toCloudEvent, fromCloudEvent, type CloudEventV1 } from './envelope/cloud-event.js';
export * from './projections/index.js';
