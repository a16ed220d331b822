/**
 * @eventloom/core: the envelope, errors, the EventStore contract and its in-memory store,
 * deciders and command handling, schemas, projections and subscriptions — what an application
 * uses. Building blocks for store adapters are in `@eventloom/core/adapter`.
 */
export * from './envelope/errors.js';
export * from './envelope/event.js';
export * from './envelope/command.js';
export { uuidv7, isUuid } from './envelope/uuid.js';
export { categoryOf, streamIdOf, MAX_STREAM_ID_LENGTH } from './envelope/stream-id.js';
export { MAX_JSON_DEPTH, MAX_EVENT_BYTES } from './envelope/json.js';
export { toCloudEvent, fromCloudEvent, type CloudEventV1 } from './envelope/cloud-event.js';

export * from './event-store/event-store.js';
export { MAX_SUBSCRIPTION_ID_LENGTH } from './event-store/checkpoint.js';
export { MAX_VERSION } from './event-store/expected-version.js';
export { MAX_EVENT_TYPE_LENGTH, MAX_SCHEMA_VERSION } from './event-store/prepare-append.js';
export { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, MAX_POSITION } from './event-store/read-options.js';
export { EVENT_FIELDS, type EventField, type PartialEvent, type SomeFieldsOf } from './event-store/fields.js';
export { MemoryEventStore, type MemoryEventStoreOptions } from './event-store/memory-event-store.js';
export { collect } from './event-store/collect.js';

export type { SubscriptionEvent, SubscriptionFailure, SubscriptionLogger } from './subscriptions/events.js';
export type { SubscriptionDeadLetter, SubscriptionDeadLetters } from './subscriptions/dead-letters.js';
export type { ConsumerGroupHandlerContext, ConsumerGroupMember, ConsumerGroupOptions } from './subscriptions/group.js';

export { fold, decisionEvents, type Decider } from './commands/decider.js';
export { AggregateRoot, aggregateDecider } from './commands/aggregate-root.js';
export {
  CommandHandler,
  type CommandHandlerOptions,
  type CommandResult,
  type HandleOptions,
} from './commands/command-handler.js';
export type { RetryPolicy } from './commands/retry-policy.js';
export {
  loadState,
  type LoadedState,
  type LoadStateOptions,
  type SnapshotCodec,
  type SnapshotPolicy,
  type SnapshotSchedule,
} from './commands/load-state.js';
export { MemorySnapshotStore, type Snapshot, type SnapshotStore } from './commands/snapshot-store.js';

export { SchemaRegistry, type Upcaster } from './schemas/schema-registry.js';

export * from './projections/index.js';

export type { ConsumeSource, DeliveredMessage, Destination, MessageEnvelope, OutgoingMessage, SentMessage } from './messaging/message.js';
export type {
  Consumer,
  ConsumerEvent,
  ConsumerLogger,
  ConsumerOptions,
  ConsumerStatus,
  MessageContext,
  MessageFailurePolicy,
  MessageHandler,
  MessageHandlers,
  SendOptions,
  Transport,
  TransportCapabilities,
} from './messaging/transport.js';
export type { DeadLetter, DeadLetterFilter, DeadLetterQueue, DeadLetterReason } from './messaging/dead-letters.js';
export { MAX_DESTINATION_NAME_LENGTH } from './messaging/names.js';
export { DeliveryLostError } from './messaging/delivery-lost.js';
export { MAX_MESSAGES_PER_SEND, MAX_PARTITION_KEY_LENGTH, MAX_SUBJECT_LENGTH, MAX_DELAY_MS } from './messaging/prepare.js';
export { MemoryTransport, type MemoryTransportOptions } from './messaging/memory/memory-transport.js';
export { MemoryTransportStorage, type MemoryTransportStorageOptions } from './messaging/memory/memory-storage.js';
export type { TransportOptions } from './messaging/create-transport.js';

export * from './sagas/index.js';

export * from './messaging/outbox/index.js';
export * from './messaging/inbox/index.js';
