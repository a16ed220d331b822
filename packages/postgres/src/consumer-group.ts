/**
 * Consumer groups: members in any number of processes share one subscription. Streams fall into
 * partitions by a hash of their id; a member holds partitions under leases renewed by a
 * heartbeat, runs one checkpointed subscription per partition (so a stream is handled by one
 * member at a time, in order), and gives partitions back when the group grows. A member that dies
 * stops renewing; its partitions go to the others once their lease runs out, and the events it
 * handled after the partition's last checkpoint — at most one batch — are handled again.
 */
import {
  GroupConfigMismatchError,
  InvalidArgumentError,
  LeaseHeldError,
  StoreBusyError,
  StoreUnavailableError,
  SubscriptionFailedError,
  uuidv7,
  type CheckpointStore,
  type ConsumerGroupHandlerContext,
  type ConsumerGroupMember,
  type ConsumerGroupOptions,
  type DeadLetterRetryResult,
  type Event,
  type LogFilter,
  type Position,
  type RecordedEvent,
  type Subscription,
  type SubscriptionDeadLetters,
} from '@eventloom/core';
import {
  abortableSleep,
  checkSubscribeOptions,
  groupIntegerOption,
  groupNameOption,
  groupSubscribeOptions,
  reportGroupError,
  retryPartitionsDeadLetters,
  waitForPartitions,
  startSubscription,
} from '@eventloom/core/adapter';
import { run, type StoreDatabase } from './database.js';
import { assertStorableBigint } from './limits.js';
import type { LogQuery } from './read-log.js';
import type { StoreNames } from './names.js';
import { GROUP_CONFIG_MISMATCH, groupStatements, type GroupStatements } from './sql/groups.js';
import type { LiveReader } from './wake-policy.js';

export type { ConsumerGroupHandlerContext, ConsumerGroupMember, ConsumerGroupOptions } from '@eventloom/core';

export interface GroupSource {
  readonly db: StoreDatabase;
  readonly names: StoreNames;
  readPartition(query: LogQuery): AsyncIterable<RecordedEvent>;
  /** A fresh head-and-wait pair for one partition's subscription. */
  liveReader(): LiveReader;
  readonly deadLetters?: SubscriptionDeadLetters;
}

/** The member no longer holds the partition (its lease ran out or another member has it): a typed LeaseHeldError. */
function partitionLost(subscriptionId: string, detail: string): LeaseHeldError {
  return new LeaseHeldError(subscriptionId, null, `${detail}; this member stops handling it, and the holder resumes from its checkpoint`);
}

const DEFAULT_PARTITIONS = 16;
const DEFAULT_LEASE_MS = 10_000;
/** Longest pause between attempts to join while the store is unavailable. */
const MAX_JOIN_RETRY_MS = 5_000;
/**
 * A member stops handling a partition this long before its lease ends. Measured on its monotonic
 * clock from when it sent the heartbeat, so a wall clock that jumps changes nothing; the lease
 * itself ends on the server's clock.
 */
const SAFETY_FRACTION = 0.2;

export function startConsumerGroupMember<E extends Event>(source: GroupSource, options: ConsumerGroupOptions<E>): ConsumerGroupMember {
  return new GroupMember(source, options as unknown as ConsumerGroupOptions);
}

class GroupMember implements ConsumerGroupMember {
  readonly group: string;
  readonly memberId: string;
  readonly done: Promise<void>;
  readonly #source: GroupSource;
  readonly #statements: GroupStatements;
  readonly #options: ConsumerGroupOptions;
  readonly #partitionCount: number;
  readonly #leaseMs: number;
  readonly #abort = new AbortController();
  readonly #running = new Map<number, Subscription>();
  /** The lease epoch each running partition's subscription started under: its checkpoints are fenced by it. */
  readonly #epochs = new Map<number, bigint>();
  /** Partitions whose subscription is finishing the event in hand. */
  readonly #stopping = new Map<number, Promise<void>>();
  /** Partitions stopped here and to be handed back at the next heartbeat. */
  readonly #release = new Set<number>();
  /** Monotonic time (performance.now) until which this member may act on its leases. */
  #validUntil = 0;
  #failure: unknown;
  #highest: Position | null = null;

  constructor(source: GroupSource, options: ConsumerGroupOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    if (typeof options.handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    this.group = groupNameOption(options.group, 'group');
    this.memberId = options.memberId === undefined ? uuidv7() : groupNameOption(options.memberId, 'memberId');
    this.#partitionCount = groupIntegerOption(options.partitions, DEFAULT_PARTITIONS, 'partitions', 1, 10_000);
    this.#leaseMs = groupIntegerOption(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs', 100, 3_600_000);
    if (options.fromPosition !== undefined) assertStorableBigint(options.fromPosition, 'fromPosition');
    // The partitions' subscriptions take these options: checked once, before anything is written.
    checkSubscribeOptions(source, groupSubscribeOptions(options, `${this.group}#0`));
    this.#source = source;
    this.#statements = groupStatements(source.names);
    this.#options = options;
    this.done = this.#run();
    this.done.catch(() => undefined);
  }

  get partitions(): readonly number[] {
    return [...this.#running.keys()].sort((a, b) => a - b);
  }

  get position(): Position | null {
    return this.#highest;
  }

  waitFor(position: Position, timeoutMs = 30_000): Promise<void> {
    return waitForPartitions(
      {
        name: `group ${this.group} member ${this.memberId}`,
        running: () => [...this.#running.values()],
        failure: () => this.#failure,
        signal: this.#abort.signal,
      },
      position,
      timeoutMs,
    );
  }

  retryDeadLetters(): Promise<DeadLetterRetryResult> {
    return retryPartitionsDeadLetters([...this.#running.values()]);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      // The server may be away for a while (a restart, a failover): joining waits it out, with backoff.
      for (let delay = 100; ; delay = Math.min(delay * 2, MAX_JOIN_RETRY_MS)) {
        try {
          await this.#join();
          break;
        } catch (error) {
          const transient = error instanceof StoreUnavailableError || error instanceof StoreBusyError;
          reportGroupError(this.#options, this.group, error, transient && !signal.aborted);
          if (!transient || signal.aborted) throw error;
          await abortableSleep(delay, signal);
          if (signal.aborted) return;
        }
      }
      while (!signal.aborted && this.#failure === undefined) {
        await this.#heartbeat().catch((error: unknown) => {
          // Resized under it: this member's partitions are gone; it stops, visibly. Other errors are passing.
          if (error instanceof GroupConfigMismatchError) this.#failure ??= error;
          reportGroupError(this.#options, this.group, error, this.#failure === undefined);
        });
        if (this.#failure !== undefined) break;
        await abortableSleep(this.#leaseMs / 3, signal);
      }
    } finally {
      await Promise.all([...this.#running.values()].map((s) => s.stop()));
      this.#running.clear();
      await Promise.all(this.#stopping.values());
      await this.#source.db
        .rows(this.#statements.leave, [this.group, this.memberId], { operation: `leaving group ${this.group}` })
        .catch(() => undefined);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #join(): Promise<void> {
    const [row] = await this.#source.db.rows(this.#statements.join, [this.group, this.#partitionCount], {
      operation: `joining group ${this.group}`,
    });
    const count = row?.[0] as number;
    if (count !== this.#partitionCount) {
      throw new GroupConfigMismatchError(this.group, 'partitions', String(count), String(this.#partitionCount));
    }
  }

  async #heartbeat(): Promise<void> {
    const sentAt = performance.now();
    const release = [...this.#release];
    const rows = await this.#source.db.withClient({ operation: `heartbeat of group ${this.group}` }, async (client) => {
      try {
        return await run(client, this.#statements.heartbeat, [this.group, this.memberId, this.#partitionCount, this.#leaseMs, release]);
      } catch (error) {
        if ((error as { code?: string }).code !== GROUP_CONFIG_MISMATCH) throw error;
        const groupCount = (error as { detail?: string }).detail || 'no configuration';
        throw new GroupConfigMismatchError(this.group, 'partitions', groupCount, String(this.#partitionCount));
      }
    });
    for (const partition of release) this.#release.delete(partition);
    this.#validUntil = sentAt + this.#leaseMs * (1 - SAFETY_FRACTION);
    const held = new Set<number>();
    for (const row of rows) {
      const [partition, epoch, assigned] = row as [number, bigint, boolean];
      held.add(partition);
      if (this.#stopping.has(partition)) continue;
      const running = this.#epochs.get(partition);
      if (running !== undefined && running !== epoch) {
        // Lost and taken back meanwhile: the subscription of the old lease may not write any more.
        this.#handBack(partition, false);
        continue;
      }
      if (assigned && !this.#running.has(partition)) this.#start(partition, epoch);
      else if (!assigned) this.#handBack(partition);
    }
    for (const partition of this.#running.keys()) {
      if (!held.has(partition)) this.#handBack(partition, false);
    }
  }

  /** Stops the partition's subscription; `release` hands it back at the next heartbeat. */
  #handBack(partition: number, release = true): void {
    const subscription = this.#running.get(partition);
    if (!subscription) {
      if (release) this.#release.add(partition);
      return;
    }
    this.#running.delete(partition);
    this.#epochs.delete(partition);
    // Handed back only once stopped: the next holder must not start while this one still handles.
    const stopped = subscription.stop().then(() => {
      this.#stopping.delete(partition);
      if (release) this.#release.add(partition);
    });
    this.#stopping.set(partition, stopped);
  }

  #start(partition: number, epoch: bigint): void {
    const subscriptionId = `${this.group}#${partition}`;
    const context: ConsumerGroupHandlerContext = { group: this.group, memberId: this.memberId, partition, subscriptionId };
    const options = this.#options;
    const assertHeld = (): void => {
      if (performance.now() > this.#validUntil) throw partitionLost(subscriptionId, 'this member\'s lease ran out');
    };
    const live = this.#source.liveReader();
    const subscription = startSubscription(
      {
        readAll: <T extends Event>(query: LogQuery) => {
          assertHeld();
          const events = this.#source.readPartition({ ...query, partition: { count: this.#partitionCount, index: partition } });
          return events as AsyncIterable<RecordedEvent<T>>;
        },
        headPosition: live.headPosition,
        checkpoints: this.#checkpoints(partition, epoch),
        waitForAppend: live.waitForAppend,
        ...(this.#source.deadLetters && { deadLetters: this.#source.deadLetters }),
      },
      {
        ...groupSubscribeOptions(options, subscriptionId),
        handler: async (event) => {
          assertHeld();
          await options.handler(event, context);
          if (this.#highest === null || event.position > this.#highest) this.#highest = event.position;
        },
      },
      { reportAs: subscriptionId },
    );
    this.#running.set(partition, subscription);
    this.#epochs.set(partition, epoch);
    subscription.done.catch((error: unknown) => {
      if (this.#running.get(partition) === subscription) {
        this.#running.delete(partition);
        this.#epochs.delete(partition);
      }
      // A handler that keeps failing stops the member; a lost lease or connection only this partition,
      // which the next heartbeat starts again if the member still holds it.
      const cause = error instanceof SubscriptionFailedError ? error.cause : undefined;
      if (error instanceof SubscriptionFailedError && !(cause instanceof LeaseHeldError)) {
        this.#failure ??= error;
        this.#abort.abort();
      }
    });
  }

  /** The partition's checkpoint, moved only while this member holds the partition under the lease `epoch`. */
  #checkpoints(partition: number, epoch: bigint): CheckpointStore {
    const { db } = this.#source;
    const context = { operation: `checkpoint of ${this.group}#${partition}` };
    return {
      load: async () => {
        const [row] = await db.rows(this.#statements.load, [this.group, partition], context);
        return (row?.[0] as bigint | null | undefined) ?? null;
      },
      store: async (_, position) => {
        const rows = await db.withClient(context, (client) =>
          client.query({
            name: this.#statements.store.name,
            text: this.#statements.store.text,
            values: [this.group, partition, this.memberId, position.toString(), epoch.toString()],
          }),
        );
        if (rows.rowCount === 0) throw partitionLost(`${this.group}#${partition}`, 'another member took it over, or the lease this handler started under ended');
      },
    };
  }
}

export interface ResizeConsumerGroupOptions {
  readonly group: string;
  /** The group's new number of partitions. */
  readonly partitions: number;
}

export interface ResizeConsumerGroupResult {
  /** The count before, or null for a group that had none (it is created with the new count). */
  readonly previousPartitions: number | null;
  /** Where every new partition resumes (the lowest old checkpoint); null: from the members' `fromPosition`. */
  readonly startPosition: Position | null;
}

/**
 * Changes a group's partition count in one transaction: every lease ends, and every new partition
 * resumes after the lowest of the old checkpoints, so no event is skipped; events between that and
 * a partition's old checkpoint are handled again (at-least-once, as after a takeover). Members
 * still running with the old count stop at their next heartbeat with GroupConfigMismatchError,
 * and a checkpoint they try to write is refused; start them again with the new count.
 */
export async function resizeConsumerGroup(
  source: Pick<GroupSource, 'db' | 'names'>,
  options: ResizeConsumerGroupOptions,
): Promise<ResizeConsumerGroupResult> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be { group, partitions }');
  const group = groupNameOption(options.group, 'group');
  const partitions = groupIntegerOption(options.partitions, DEFAULT_PARTITIONS, 'partitions', 1, 10_000);
  const { db, names } = source;
  const [row] = await db.rows(groupStatements(names).resize, [group, partitions], { operation: `resizing group ${group}`, writes: true });
  const [previous, start] = (row ?? [null, null]) as [number | null, bigint | null];
  return { previousPartitions: previous, startPosition: start };
}
