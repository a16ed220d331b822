/**
 * Consumer groups: members in any number of processes share one subscription. Streams fall into
 * partitions by a hash of their id; a member holds partitions under leases renewed by a
 * heartbeat, runs one checkpointed subscription per partition (so a stream is handled by one
 * member at a time, in order), and gives partitions back when the group grows. A member that dies
 * stops renewing; its partitions go to the others once their lease runs out, and the events it
 * handled after the partition's last checkpoint — at most one batch — are handled again.
 */
import {
  InvalidArgumentError,
  startSubscription,
  SubscriptionFailedError,
  uuidv7,
  type CheckpointStore,
  type Event,
  type LogFilter,
  type Position,
  type RecordedEvent,
  type Subscription,
} from '@eventloom/core';
import type { StoreDatabase } from './database.js';
import { assertStorableBigint } from './limits.js';
import type { LogQuery } from './read-log.js';
import type { LiveReader } from './wake-policy.js';

export interface ConsumerGroupHandlerContext {
  readonly group: string;
  readonly memberId: string;
  readonly partition: number;
  /** The partition's subscription id, `group#partition`. */
  readonly subscriptionId: string;
}

export interface ConsumerGroupOptions<E extends Event = Event> {
  /** The group's name: members with the same name share the work. */
  readonly group: string;
  /** How many partitions the streams are split into; the same for every member. Default 16. */
  readonly partitions?: number;
  /** This member's id, unique in the group. Default: a new UUID. */
  readonly memberId?: string;
  /** How long a member's hold on its partitions lasts without a heartbeat. Default 10,000 ms. */
  readonly leaseMs?: number;
  /** Called once per event of the member's partitions, in log order within each partition. */
  readonly handler: (event: RecordedEvent<E>, context: ConsumerGroupHandlerContext) => void | Promise<void>;
  readonly filter?: LogFilter;
  /** Where a partition with no checkpoint starts (inclusive). Default: the start of the log. */
  readonly fromPosition?: Position;
  /** Events per read, and so the most a takeover handles twice per partition. Default 100. */
  readonly batchSize?: number;
  /** Poll interval when no wake-up arrives. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** Attempts per event before the member stops with `SubscriptionFailedError`. Default 5. */
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
}

export interface ConsumerGroupMember {
  readonly group: string;
  readonly memberId: string;
  /** Partitions this member is handling now. */
  readonly partitions: readonly number[];
  /** Stops handling, stores each partition's checkpoint and hands the partitions back. */
  stop(): Promise<void>;
  /** Resolves after `stop()`; rejects when a handler kept failing (`SubscriptionFailedError`). */
  readonly done: Promise<void>;
}

export interface GroupSource {
  readonly db: StoreDatabase;
  readPartition(query: LogQuery): AsyncIterable<RecordedEvent>;
  /** A fresh head-and-wait pair for one partition's subscription. */
  liveReader(): LiveReader;
}

/** The member no longer holds the partition (its lease ran out or another member has it). */
class PartitionLostError extends Error {}

const DEFAULT_PARTITIONS = 16;
const DEFAULT_LEASE_MS = 10_000;
/** A member stops handling a partition this long before its lease ends by its own clock. */
const SAFETY_FRACTION = 0.2;

export function startConsumerGroupMember<E extends Event>(source: GroupSource, options: ConsumerGroupOptions<E>): ConsumerGroupMember {
  return new GroupMember(source, options as unknown as ConsumerGroupOptions);
}

function integerOption(value: number | undefined, fallback: number, name: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function nameOption(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255 || value.includes('\u0000')) {
    throw new InvalidArgumentError(name, 'must be a string of 1 to 255 characters without U+0000');
  }
  return value;
}

class GroupMember implements ConsumerGroupMember {
  readonly group: string;
  readonly memberId: string;
  readonly done: Promise<void>;
  readonly #source: GroupSource;
  readonly #options: ConsumerGroupOptions;
  readonly #partitionCount: number;
  readonly #leaseMs: number;
  readonly #abort = new AbortController();
  readonly #running = new Map<number, Subscription>();
  /** Partitions whose subscription is finishing the event in hand. */
  readonly #stopping = new Map<number, Promise<void>>();
  /** Partitions stopped here and to be handed back at the next heartbeat. */
  readonly #release = new Set<number>();
  /** Local time until which this member may act on its leases. */
  #validUntil = 0;
  #failure: unknown;

  constructor(source: GroupSource, options: ConsumerGroupOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    if (typeof options.handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    this.group = nameOption(options.group, 'group');
    this.memberId = options.memberId === undefined ? uuidv7() : nameOption(options.memberId, 'memberId');
    this.#partitionCount = integerOption(options.partitions, DEFAULT_PARTITIONS, 'partitions', 1, 10_000);
    this.#leaseMs = integerOption(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs', 100, 3_600_000);
    if (options.fromPosition !== undefined) assertStorableBigint(options.fromPosition, 'fromPosition');
    this.#source = source;
    this.#options = options;
    this.done = this.#run();
    this.done.catch(() => undefined);
  }

  get partitions(): readonly number[] {
    return [...this.#running.keys()].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      await this.#join();
      while (!signal.aborted && this.#failure === undefined) {
        await this.#heartbeat().catch(() => undefined);
        if (this.#failure !== undefined) break;
        await abortableSleep(this.#leaseMs / 3, signal);
      }
    } finally {
      await Promise.all([...this.#running.values()].map((s) => s.stop()));
      this.#running.clear();
      await Promise.all(this.#stopping.values());
      await this.#source.db
        .rows(this.#source.db.queries.leaveGroup, [this.group, this.memberId], { operation: `leaving group ${this.group}` })
        .catch(() => undefined);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #join(): Promise<void> {
    const [row] = await this.#source.db.rows(this.#source.db.queries.joinGroup, [this.group, this.#partitionCount], {
      operation: `joining group ${this.group}`,
    });
    const counts = (row?.[0] as number[] | null) ?? [];
    const other = counts.find((count) => count !== this.#partitionCount);
    if (other !== undefined) {
      throw new InvalidArgumentError(
        'partitions',
        `group ${this.group} has ${other} partitions, this member asked for ${this.#partitionCount}; every member must use the same number`,
      );
    }
  }

  async #heartbeat(): Promise<void> {
    const sentAt = Date.now();
    const release = [...this.#release];
    const rows = await this.#source.db.rows(
      this.#source.db.queries.heartbeat,
      [this.group, this.memberId, this.#leaseMs, release],
      { operation: `heartbeat of group ${this.group}` },
    );
    for (const partition of release) this.#release.delete(partition);
    this.#validUntil = sentAt + this.#leaseMs * (1 - SAFETY_FRACTION);
    const held = new Set<number>();
    for (const row of rows) {
      const [partition, , assigned] = row as [number, bigint | null, boolean];
      held.add(partition);
      if (this.#stopping.has(partition)) continue;
      if (assigned && !this.#running.has(partition)) this.#start(partition);
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
    // Handed back only once stopped: the next holder must not start while this one still handles.
    const stopped = subscription.stop().then(() => {
      this.#stopping.delete(partition);
      if (release) this.#release.add(partition);
    });
    this.#stopping.set(partition, stopped);
  }

  #start(partition: number): void {
    const subscriptionId = `${this.group}#${partition}`;
    const context: ConsumerGroupHandlerContext = { group: this.group, memberId: this.memberId, partition, subscriptionId };
    const options = this.#options;
    const assertHeld = (): void => {
      if (Date.now() > this.#validUntil) throw new PartitionLostError(`lease on ${subscriptionId} ran out`);
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
        checkpoints: this.#checkpoints(partition),
        waitForAppend: live.waitForAppend,
      },
      {
        subscriptionId,
        handler: async (event, _) => {
          assertHeld();
          await options.handler(event, context);
        },
        batchSize: options.batchSize ?? 100,
        ...(options.filter && { filter: options.filter }),
        ...(options.fromPosition !== undefined && { fromPosition: options.fromPosition }),
        ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
        ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
        ...(options.retryDelayMs !== undefined && { retryDelayMs: options.retryDelayMs }),
      },
    );
    this.#running.set(partition, subscription);
    subscription.done.catch((error: unknown) => {
      if (this.#running.get(partition) === subscription) this.#running.delete(partition);
      // A handler that keeps failing stops the member; a lost lease or connection only this partition,
      // which the next heartbeat starts again if the member still holds it.
      const cause = error instanceof SubscriptionFailedError ? error.cause : undefined;
      if (error instanceof SubscriptionFailedError && !(cause instanceof PartitionLostError)) {
        this.#failure ??= error;
        this.#abort.abort();
      }
    });
  }

  /** The partition's checkpoint, moved only while this member holds the partition. */
  #checkpoints(partition: number): CheckpointStore {
    const { db } = this.#source;
    const context = { operation: `checkpoint of ${this.group}#${partition}` };
    return {
      load: async () => {
        const [row] = await db.rows(db.queries.loadPartition, [this.group, partition], context);
        return (row?.[0] as bigint | null | undefined) ?? null;
      },
      store: async (_, position) => {
        const rows = await db.withClient(context, (client) =>
          client.query({
            name: db.queries.storePartition.name,
            text: db.queries.storePartition.text,
            values: [this.group, partition, this.memberId, position.toString()],
          }),
        );
        if (rows.rowCount === 0) throw new PartitionLostError(`${this.group}#${partition} is held by another member now`);
      },
    };
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
