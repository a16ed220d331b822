/** The outbox as applications use it: the event-store relay, the state-based outbox, the memory outbox. */
export { startOutboxRelay, type EventOutboxRelay, type EventOutboxRelayOptions, type OutboxRoute } from './event-relay.js';
export type { Outbox, OutboxDestination, OutboxMessage } from './outbox.js';
export type { OutboxRelay, OutboxRelayOptions } from './outbox-relay.js';
export type { RelayCommonOptions, RelayEvent, RelayLogger, RelayStatus } from './relay-events.js';
export { createMemoryOutbox, MemoryOutbox, type MemoryOutboxOptions } from './memory-outbox.js';
