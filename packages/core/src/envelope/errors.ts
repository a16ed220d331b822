/** The typed errors of Eventloom: every failure a caller can act on has a class and a stable code. */

export type EventloomErrorCode =
  | 'WRONG_EXPECTED_VERSION'
  | 'STREAM_DELETED'
  | 'INVALID_EVENT'
  | 'INVALID_ARGUMENT'
  | 'DUPLICATE_EVENT_ID'
  | 'CONCURRENCY_RETRIES_EXHAUSTED'
  | 'STORE_CLOSED'
  | 'UPCAST_FAILED'
  | 'SUBSCRIPTION_FAILED'
  | 'STORE_UNAVAILABLE'
  | 'PROJECTION_WAIT_TIMEOUT'
  | 'SUBSCRIPTION_WAIT_TIMEOUT'
  | 'SUBSCRIPTION_STOPPED'
  | 'LEASE_HELD'
  | 'STORE_BUSY'
  | 'STORE_CORRUPT'
  | 'STORE_READ_ONLY'
  | 'TRANSACTION_CLOSED'
  | 'GROUP_CONFIG_MISMATCH'
  | 'TRANSPORT_UNAVAILABLE'
  | 'TRANSPORT_CLOSED'
  | 'TOPOLOGY_CONFLICT'
  | 'INVALID_MESSAGE'
  | 'NOT_SUPPORTED'
  | 'SAGA_NOT_FOUND'
  | 'SAGA_STEP_REJECTED'
  | 'SAGA_STEP_TIMEOUT'
  | 'SAGA_CONFLICT'
  | 'RESOURCE_LOCKED'
  | 'DELIVERY_LOST';

/** Base class: `code` is stable across releases, `message` is for people. */
export abstract class EventloomError extends Error {
  abstract readonly code: EventloomErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type ExpectedVersionDescription = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** An append's expectation of the stream's version did not hold. Nothing was written. */
export class WrongExpectedVersionError extends EventloomError {
  readonly code = 'WRONG_EXPECTED_VERSION' as const;

  constructor(
    readonly streamId: string,
    readonly expectedVersion: ExpectedVersionDescription,
    /** The stream's version when the append was tried; `null` when the stream does not exist. */
    readonly actualVersion: bigint | null,
  ) {
    super(
      `Wrong expected version for ${streamId}: expected ${describeExpected(expectedVersion)}, actual ${
        actualVersion === null ? 'no stream' : actualVersion.toString()
      }`,
    );
  }
}

function describeExpected(expected: ExpectedVersionDescription): string {
  if (expected === 'no_stream') return 'no stream';
  if (expected === 'stream_exists') return 'an existing stream';
  return expected.toString();
}

/** The stream was tombstoned (hard-deleted): it can never be read or written again. */
export class StreamDeletedError extends EventloomError {
  readonly code = 'STREAM_DELETED' as const;

  constructor(readonly streamId: string) {
    super(`Stream ${streamId} has been deleted permanently (tombstoned); use another stream id`);
  }
}

export interface SchemaIssue {
  readonly message: string;
  readonly path: string;
}

/** An event to append is malformed; `field` names the bad part, e.g. `events[1].data.items[0].price`. */
export class InvalidEventError extends EventloomError {
  readonly code = 'INVALID_EVENT' as const;

  constructor(
    readonly field: string,
    readonly reason: string,
    readonly issues: readonly SchemaIssue[] = [],
  ) {
    super(`Invalid event: ${field} ${reason}`);
  }
}

/** An argument other than an event (stream id, expected version, option) is malformed. */
export class InvalidArgumentError extends EventloomError {
  readonly code = 'INVALID_ARGUMENT' as const;

  constructor(
    readonly argument: string,
    readonly reason: string,
  ) {
    super(`Invalid ${argument}: ${reason}`);
  }
}

/** An event id is already used by an event of another stream or another position. */
export class DuplicateEventIdError extends EventloomError {
  readonly code = 'DUPLICATE_EVENT_ID' as const;

  constructor(
    readonly eventId: string,
    readonly streamId: string,
  ) {
    super(
      `Event id ${eventId} is already recorded and the append to ${streamId} is not an exact retry of that append; give new events new ids`,
    );
  }
}

/** The command handler kept losing the optimistic-concurrency race and gave up. */
export class ConcurrencyRetriesExhaustedError extends EventloomError {
  readonly code = 'CONCURRENCY_RETRIES_EXHAUSTED' as const;

  constructor(
    readonly streamId: string,
    readonly attempts: number,
    options: { cause: WrongExpectedVersionError },
  ) {
    super(
      `Command on ${streamId} failed after ${attempts} attempts: other writers kept changing the stream (${options.cause.message})`,
      options,
    );
  }
}

/** The store was closed; open a new one. */
export class StoreClosedError extends EventloomError {
  readonly code = 'STORE_CLOSED' as const;

  constructor(what = 'event store') {
    super(`The ${what} is closed`);
  }
}

/** An upcaster threw or produced data its target schema rejects. */
export class UpcastError extends EventloomError {
  readonly code = 'UPCAST_FAILED' as const;
  /** Where the event is, when known: projection runners put it through their failure policy by it. */
  readonly position: bigint | null;
  readonly streamId: string | null;

  constructor(
    readonly eventId: string,
    readonly eventType: string,
    readonly fromVersion: number,
    options: { cause: unknown; position?: bigint; streamId?: string },
  ) {
    super(
      `Upcasting ${eventType} v${fromVersion} (event ${eventId}) failed: ${
        options.cause instanceof Error ? options.cause.message : String(options.cause)
      }`,
      { cause: options.cause },
    );
    this.position = options.position ?? null;
    this.streamId = options.streamId ?? null;
  }
}

/** A subscription stopped because its handler kept failing; `position` is the event it stopped at. */
export class SubscriptionFailedError extends EventloomError {
  readonly code = 'SUBSCRIPTION_FAILED' as const;

  constructor(
    readonly subscriptionId: string,
    readonly position: bigint,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(
      `Subscription ${subscriptionId} stopped at position ${position} after ${attempts} failed attempts: ${
        options.cause instanceof Error ? options.cause.message : String(options.cause)
      }`,
      options,
    );
  }
}

/** The storage behind a store failed (connection lost, disk full); whether the write happened is stated. */
export class StoreUnavailableError extends EventloomError {
  readonly code = 'STORE_UNAVAILABLE' as const;
  /**
   * Whether waiting can fix it (a lost connection, a restarting server): subscriptions and
   * runners wait those out. `false` for what only a person can fix (a revoked privilege, an error
   * the store does not know): they stop visibly instead of retrying for ever.
   */
  readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options);
    this.retryable = options?.retryable ?? true;
  }
}

/** `Subscription.waitFor` gave up: the subscription had not handled the position in time. */
export class SubscriptionWaitTimeoutError extends EventloomError {
  readonly code = 'SUBSCRIPTION_WAIT_TIMEOUT' as const;

  constructor(
    readonly subscriptionId: string,
    readonly position: bigint,
    readonly timeoutMs: number,
  ) {
    super(`Subscription ${subscriptionId} had not handled position ${position} after ${timeoutMs} ms; it may be behind, stopped or failing`);
  }
}

/** A wait on a subscription or runner ended because it was stopped before reaching what was awaited. */
export class SubscriptionStoppedError extends EventloomError {
  readonly code = 'SUBSCRIPTION_STOPPED' as const;

  constructor(
    readonly subscriptionId: string,
    detail = 'it was stopped',
    options?: { cause?: unknown },
  ) {
    super(`Subscription ${subscriptionId} is not running: ${detail}`, options);
  }
}

/** Another process holds the lease this one asked for (a named subscription, a projection, a partition). */
export class LeaseHeldError extends EventloomError {
  readonly code = 'LEASE_HELD' as const;

  constructor(
    readonly resource: string,
    readonly holder: string | null,
    detail = 'another process holds it; this one stands by until the lease is released or expires',
  ) {
    super(`The lease on ${resource} is held${holder ? ` by ${holder}` : ''}: ${detail}`);
  }
}

/** The store stayed locked by another process (or connection) for longer than the configured wait. Nothing was written. */
export class StoreBusyError extends EventloomError {
  readonly code = 'STORE_BUSY' as const;

  constructor(
    readonly operation: string,
    readonly waitedMs: number,
    options?: { cause?: unknown },
  ) {
    super(`${operation} gave up after waiting ${waitedMs} ms for a lock held by another process or connection; nothing was written. Raise the store's busy timeout or find the long transaction`, options);
  }
}

/** The storage is damaged; the message says what was being done and how to recover. */
export class StoreCorruptError extends EventloomError {
  readonly code = 'STORE_CORRUPT' as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The store was opened on storage that refuses writes (a hot standby, a read-only file). */
export class StoreReadOnlyError extends EventloomError {
  readonly code = 'STORE_READ_ONLY' as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A handler wrote through a transaction that had already ended (committed or rolled back); nothing was written. */
export class TransactionClosedError extends EventloomError {
  readonly code = 'TRANSACTION_CLOSED' as const;

  constructor(detail: string) {
    super(`The transaction has already ended: ${detail}. Await every write before the handler returns`);
  }
}

/** A member of a consumer group was configured unlike the group (e.g. another partition count). Nothing was written. */
export class GroupConfigMismatchError extends EventloomError {
  readonly code = 'GROUP_CONFIG_MISMATCH' as const;

  constructor(
    readonly group: string,
    readonly setting: string,
    readonly groupValue: string,
    readonly memberValue: string,
  ) {
    super(`Consumer group ${group} has ${setting} ${groupValue}, but this member asked for ${memberValue}; use the group's value, or resize the group first`);
  }
}

/** The broker or queue storage stayed unreachable for longer than the transport's bound; `sent` says whether a send may have been stored. */
export class TransportUnavailableError extends EventloomError {
  readonly code = 'TRANSPORT_UNAVAILABLE' as const;

  constructor(
    readonly transport: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`The ${transport} transport is unavailable: ${detail}`, options);
  }
}

/** The transport was closed; nothing was sent or received. */
export class TransportClosedError extends EventloomError {
  readonly code = 'TRANSPORT_CLOSED' as const;

  constructor(readonly transport: string) {
    super(`The ${transport} transport is closed; create a new one`);
  }
}

/** A queue, topic, stream or exchange exists with settings other than the ones asked for. Nothing was changed. */
export class TopologyConflictError extends EventloomError {
  readonly code = 'TOPOLOGY_CONFLICT' as const;

  constructor(
    readonly resource: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${resource} already exists with other settings: ${detail}. Delete it or use the settings it has`, options);
  }
}

/** A received message could not be read: not a CloudEvent, not JSON, or a required attribute missing. */
export class InvalidMessageError extends EventloomError {
  readonly code = 'INVALID_MESSAGE' as const;

  constructor(detail: string, options?: { cause?: unknown }) {
    super(`Invalid message: ${detail}`, options);
  }
}

/** The adapter cannot do this (e.g. withdraw a delayed message on RabbitMQ); its capabilities say so. */
export class NotSupportedError extends EventloomError {
  readonly code = 'NOT_SUPPORTED' as const;

  constructor(
    readonly operation: string,
    readonly adapter: string,
    hint = '',
  ) {
    super(`${operation} is not supported by the ${adapter} adapter${hint ? `: ${hint}` : ''}`);
  }
}

/** No saga log (`saga-<id>`) exists for this id, or it belongs to another saga definition. */
export class SagaNotFoundError extends EventloomError {
  readonly code = 'SAGA_NOT_FOUND' as const;

  constructor(readonly sagaId: string, detail = 'has no saga log') {
    super(`Saga ${sagaId} ${detail}; start it first (orchestrator.start) or check the id`);
  }
}

/** Thrown by a saga step (`context.reject(reason)`): a business refusal, compensated at once and never retried. */
export class SagaStepRejectedError extends EventloomError {
  readonly code = 'SAGA_STEP_REJECTED' as const;

  constructor(readonly step: string, readonly reason: string) {
    super(`Saga step ${step} was rejected: ${reason}`);
  }
}

/** A saga step or compensation did not finish within its `timeoutMs`; counted as a failed attempt. */
export class SagaStepTimeoutError extends EventloomError {
  readonly code = 'SAGA_STEP_TIMEOUT' as const;

  constructor(readonly step: string, readonly timeoutMs: number) {
    super(`Saga step ${step} did not finish within ${timeoutMs} ms; raise its timeoutMs or make the action faster (it is retried with the same idempotency key)`);
  }
}

/** Another executor advanced this saga (or process) first; this one stopped without acting. */
export class SagaConflictError extends EventloomError {
  readonly code = 'SAGA_CONFLICT' as const;

  constructor(readonly sagaId: string, options?: { cause?: unknown }) {
    super(`Saga ${sagaId} is being executed by another executor; nothing was done here (resume it later if that executor died)`, options);
  }
}

/** A semantic lock is held by another owner (e.g. stock RESERVED by another saga) and has not expired. */
export class ResourceLockedError extends EventloomError {
  readonly code = 'RESOURCE_LOCKED' as const;

  constructor(
    readonly resource: string,
    readonly holder: string,
    readonly state: string,
    readonly expiresAt: string | null,
  ) {
    super(`${resource} is ${state} by ${holder}${expiresAt ? ` until ${expiresAt}` : ''}; wait for its release or expiry, or use another resource`);
  }
}

export function isEventloomError(value: unknown): value is EventloomError {
  return value instanceof EventloomError;
}
