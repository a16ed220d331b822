/** The consumer-group part of the `EventStore` contract: what `subscribeGroup` takes and returns. */
import type { Event, Position, RecordedEvent } from '../envelope/event.js';
import type { DeadLetterRetryResult, LogFilter, SubscriptionStart } from '../event-store/event-store.js';
import type { FailurePolicy } from '../projections/projection.js';
import type { SubscriptionEvent, SubscriptionLogger } from './events.js';

export interface ConsumerGroupHandlerContext {
  readonly group: string;
  readonly memberId: string;
  readonly partition: number;
  /** The partition's subscription id, `group#partition` (its checkpoint and dead letters are kept under it). */
  readonly subscriptionId: string;
}

export interface ConsumerGroupOptions<E extends Event = Event> {
  /** The group's name: members with the same name share the work. */
  readonly group: string;
  /** How many partitions the streams are split into; the same for every member. Default 16. */
  readonly partitions?: number;
  /** This member's id, unique in the group. Default: a new UUID. */
  readonly memberId?: string;
  /** How long a member's hold on its partitions lasts without a heartbeat: a dead member's partitions move after it. Default 10,000 ms. */
  readonly leaseMs?: number;
  /** Called once per event of the member's partitions, in log order within each partition. */
  readonly handler: (event: RecordedEvent<E>, context: ConsumerGroupHandlerContext) => void | Promise<void>;
  readonly filter?: LogFilter;
  /**
   * Where a partition with no checkpoint starts. Default `'start'`: a new group replays the WHOLE
   * log; `'now'`: only events appended after the partition is first taken.
   */
  readonly from?: SubscriptionStart;
  /** Same as `from: { position }`; kept for existing code. */
  readonly fromPosition?: Position;
  /** Events per read, and so the most a takeover handles twice per partition. Default 100. */
  readonly batchSize?: number;
  /** Poll interval when no wake-up arrives. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** As for `subscribe`: retried, then the member stops (`'stop'`) or the event is dead-lettered under `group#partition`. */
  readonly failurePolicy?: FailurePolicy;
  /** Same as `failurePolicy.maxAttempts`; kept for existing code. */
  readonly maxAttempts?: number;
  /** Same as `failurePolicy.retryDelayMs`; kept for existing code. */
  readonly retryDelayMs?: number;
  /** Events of the member's partitions' subscriptions (named `group#partition`). */
  readonly onEvent?: (event: SubscriptionEvent) => void;
  /** Where retries, failures and dead letters are logged. Default `console`; `false` for none. */
  readonly logger?: SubscriptionLogger | false;
}

export interface ConsumerGroupMember {
  readonly group: string;
  readonly memberId: string;
  /** Partitions this member is handling now. */
  readonly partitions: readonly number[];
  /** Position of the last event this member handled, in any of its partitions; `null` before the first. */
  readonly position: Position | null;
  /**
   * Resolves once every partition this member holds has handled (or passed over) everything up
   * to `position`. A member that holds no partition waits until it holds one, or times out.
   */
  waitFor(position: Position, timeoutMs?: number): Promise<void>;
  /**
   * Runs the handler again on the dead letters (`group#partition`) of the partitions this member
   * holds: those it now handles are removed, the others stay. Dead letters of partitions other
   * members hold are theirs to retry.
   */
  retryDeadLetters(): Promise<DeadLetterRetryResult>;
  /** Stops handling, stores each partition's checkpoint and hands the partitions back. */
  stop(): Promise<void>;
  /** Resolves after `stop()`; rejects when a handler kept failing (`SubscriptionFailedError`) or the group's configuration differs. */
  readonly done: Promise<void>;
}
