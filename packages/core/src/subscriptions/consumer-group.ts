/**
 * Consumer groups on any store with leases (memory, SQLite): members in any number of processes
 * share one subscription. Streams fall into partitions by a hash of their id; a member holds
 * partitions under leases renewed by a heartbeat and runs one checkpointed subscription per
 * partition, so a stream is handled by one member at a time, in order. Each member aims at an
 * even share (by its rank among the live members) and gives back what is over it; a member that
 * dies stops renewing, and its partitions go to the others once their leases run out. A
 * partition's checkpoint is written under its lease's epoch, so a member that lost it cannot
 * move it; the events handled after the last checkpoint — at most one batch — are handled again.
 */
import { describeValue } from '../envelope/describe-value.js';
import {
  GroupConfigMismatchError,
  InvalidArgumentError,
  LeaseHeldError,
  SubscriptionFailedError,
  SubscriptionStoppedError,
  SubscriptionWaitTimeoutError,
} from '../envelope/errors.js';
import type { Event, Position, RecordedEvent } from '../envelope/event.js';
import type { CheckpointStore, DeadLetterRetryResult, SubscribeOptions, Subscription } from '../event-store/event-store.js';
import { abortableSleep, checkSubscribeOptions, startSubscription, type SubscriptionSource } from './subscription.js';
import { uuidv7 } from '../envelope/uuid.js';
import { reportSubscriptionEvent } from './events.js';
import type { ConsumerGroupHandlerContext, ConsumerGroupMember, ConsumerGroupOptions } from './group.js';
import type { LeaseStore } from './lease.js';
import { partitionOf } from './partition.js';

/** What a store gives its group members: the log, checkpoints to load, leases, dead letters. */
export type GroupSubscriptionSource = Omit<SubscriptionSource, 'leases'> & { readonly leases: LeaseStore };

const DEFAULT_PARTITIONS = 16;
const DEFAULT_LEASE_MS = 10_000;
/** The group's configuration is held "for ever": one partition count per group. */
const CONFIG_LEASE_MS = 100 * 365 * 24 * 3_600_000;
/** A member stops acting on its leases this long before they end (by its own clock, from when it renewed them). */
const SAFETY_FRACTION = 0.2;

export function startGroupMember<E extends Event>(source: GroupSubscriptionSource, options: ConsumerGroupOptions<E>): ConsumerGroupMember {
  return new GroupMember(source, options as unknown as ConsumerGroupOptions);
}

export function groupIntegerOption(value: number | undefined, fallback: number, name: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

export function groupNameOption(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255 || value.includes('\u0000')) {
    throw new InvalidArgumentError(name, 'must be a string of 1 to 255 characters without U+0000');
  }
  return value;
}

/** What one partition's subscription takes from the member's options (any store's members). */
export function groupSubscribeOptions(options: ConsumerGroupOptions, subscriptionId: string): SubscribeOptions {
  return {
    subscriptionId,
    handler: () => undefined,
    batchSize: options.batchSize ?? 100,
    ...(options.filter && { filter: options.filter }),
    ...(options.from !== undefined && { from: options.from }),
    ...(options.fromPosition !== undefined && { fromPosition: options.fromPosition }),
    ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
    ...(options.failurePolicy !== undefined && { failurePolicy: options.failurePolicy }),
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.retryDelayMs !== undefined && { retryDelayMs: options.retryDelayMs }),
    ...(options.onEvent !== undefined && { onEvent: options.onEvent }),
    ...(options.logger !== undefined && { logger: options.logger }),
  };
}

/** A heartbeat that failed, as an `error` event and a log line (named `group <name>`). */
export function reportGroupError(options: Pick<ConsumerGroupOptions, 'onEvent' | 'logger'>, group: string, error: unknown, willRetry: boolean): void {
  reportSubscriptionEvent({ type: 'error', subscription: `group ${group}`, error, willRetry }, options.onEvent, options.logger);
}

/** A member's `retryDeadLetters`: each partition it holds retries its own. */
export async function retryPartitionsDeadLetters(running: readonly Subscription[]): Promise<DeadLetterRetryResult> {
  let handled = 0;
  let failed = 0;
  for (const subscription of running) {
    const result = await subscription.retryDeadLetters();
    handled += result.handled;
    failed += result.failed;
  }
  return { handled, failed };
}

/** A member's `waitFor`: every partition it holds has passed `position` (and held the same ones meanwhile). */
export async function waitForPartitions(
  member: { readonly name: string; running(): Subscription[]; failure(): unknown; readonly signal: AbortSignal },
  position: Position,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const failure = member.failure();
    if (failure !== undefined) throw failure;
    if (member.signal.aborted) throw new SubscriptionStoppedError(member.name);
    const held = member.running();
    const left = deadline - performance.now();
    if (left <= 0) throw new SubscriptionWaitTimeoutError(member.name, position, timeoutMs);
    if (held.length > 0) {
      const reached = await Promise.all(held.map((s) => s.waitFor(position, left).then(() => true, () => false)));
      const now = member.running();
      if (reached.every(Boolean) && held.every((s) => now.includes(s))) return;
    }
    await abortableSleep(Math.min(50, Math.max(left, 1)), member.signal);
  }
}

interface Running {
  readonly subscription: Subscription;
  readonly epoch: bigint;
}

class GroupMember implements ConsumerGroupMember {
  readonly group: string;
  readonly memberId: string;
  readonly done: Promise<void>;
  readonly #source: GroupSubscriptionSource;
  readonly #options: ConsumerGroupOptions;
  readonly #partitionCount: number;
  readonly #leaseMs: number;
  readonly #abort = new AbortController();
  readonly #running = new Map<number, Running>();
  /** Partitions whose subscription is finishing the event in hand before the lease is given back. */
  readonly #stopping = new Map<number, Promise<void>>();
  #validUntil = 0;
  #failure: unknown;
  #highest: Position | null = null;

  constructor(source: GroupSubscriptionSource, options: ConsumerGroupOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    if (typeof options.handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    this.group = groupNameOption(options.group, 'group');
    this.memberId = options.memberId === undefined ? uuidv7() : groupNameOption(options.memberId, 'memberId');
    this.#partitionCount = groupIntegerOption(options.partitions, DEFAULT_PARTITIONS, 'partitions', 1, 10_000);
    this.#leaseMs = groupIntegerOption(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs', 100, 3_600_000);
    this.#source = source;
    this.#options = options;
    // Checks the subscription options once, before anything is written.
    checkSubscribeOptions(source, this.#subscribeOptions(0));
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
      { name: `group ${this.group} member ${this.memberId}`, running: () => [...this.#running.values()].map((r) => r.subscription), failure: () => this.#failure, signal: this.#abort.signal },
      position,
      timeoutMs,
    );
  }

  retryDeadLetters(): Promise<DeadLetterRetryResult> {
    return retryPartitionsDeadLetters([...this.#running.values()].map((r) => r.subscription));
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done.catch(() => undefined);
  }

  get #prefix(): string {
    return `group:${this.group}:`;
  }

  #partitionLease(partition: number): string {
    return `${this.#prefix}partition:${partition}`;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const { leases } = this.#source;
    try {
      while (!signal.aborted && this.#failure === undefined) {
        try {
          await this.#heartbeat();
        } catch (error) {
          // A changed configuration stops the member, visibly; store errors pass with the next heartbeat.
          if (error instanceof GroupConfigMismatchError) this.#failure ??= error;
          reportGroupError(this.#options, this.group, error, this.#failure === undefined);
        }
        if (this.#failure !== undefined) break;
        await abortableSleep(this.#leaseMs / 3, signal);
      }
    } finally {
      for (const partition of [...this.#running.keys()]) this.#handBack(partition, true);
      await Promise.all(this.#stopping.values());
      await leases.release(`${this.#prefix}member:${this.memberId}`, this.memberId).catch(() => undefined);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #heartbeat(): Promise<void> {
    const { leases } = this.#source;
    const sentAt = performance.now();
    const config = `partitions=${this.#partitionCount}`;
    if ((await leases.acquire(`${this.#prefix}config`, config, CONFIG_LEASE_MS)) === null) {
      const theirs = (await leases.holder(`${this.#prefix}config`)) ?? 'another configuration';
      throw new GroupConfigMismatchError(this.group, 'partitions', theirs.replace('partitions=', ''), String(this.#partitionCount));
    }
    await leases.acquire(`${this.#prefix}member:${this.memberId}`, this.memberId, this.#leaseMs);
    // Renew what it runs first: a partition whose lease changed hands is stopped at once.
    for (const [partition, running] of [...this.#running]) {
      const epoch = await leases.acquire(this.#partitionLease(partition), this.memberId, this.#leaseMs);
      if (epoch !== running.epoch) this.#handBack(partition, epoch !== null);
    }
    this.#validUntil = sentAt + this.#leaseMs * (1 - SAFETY_FRACTION);
    const members = (await leases.list(`${this.#prefix}member:`)).map((lease) => lease.holder).sort();
    if (!members.includes(this.memberId)) members.push(this.memberId);
    members.sort();
    const rank = members.indexOf(this.memberId);
    const share = Math.floor(this.#partitionCount / members.length) + (rank < this.#partitionCount % members.length ? 1 : 0);
    const owned = [...this.#running.keys()].sort((a, b) => a - b);
    for (const partition of owned.slice(share)) this.#handBack(partition, true);
    if (this.#running.size >= share) return;
    const taken = new Set((await leases.list(`${this.#prefix}partition:`)).map((lease) => lease.name));
    for (let partition = 0; partition < this.#partitionCount && this.#running.size < share; partition++) {
      const name = this.#partitionLease(partition);
      if (taken.has(name) || this.#running.has(partition) || this.#stopping.has(partition)) continue;
      const epoch = await leases.acquire(name, this.memberId, this.#leaseMs);
      if (epoch !== null) this.#start(partition, epoch);
    }
  }

  /** Stops the partition's subscription; `release` then hands its lease back, so another member takes it at once. */
  #handBack(partition: number, release: boolean): void {
    const running = this.#running.get(partition);
    if (!running) return;
    this.#running.delete(partition);
    // Given back only once stopped: the next holder must not start while this one still handles.
    const stopped = running.subscription
      .stop()
      .then(() => (release ? this.#source.leases.release(this.#partitionLease(partition), this.memberId) : undefined))
      .catch(() => undefined)
      .finally(() => this.#stopping.delete(partition));
    this.#stopping.set(partition, stopped);
  }

  #subscribeOptions(partition: number): SubscribeOptions {
    return groupSubscribeOptions(this.#options, `${this.group}#${partition}`);
  }

  #start(partition: number, epoch: bigint): void {
    const subscriptionId = `${this.group}#${partition}`;
    const context: ConsumerGroupHandlerContext = { group: this.group, memberId: this.memberId, partition, subscriptionId };
    const source = this.#source;
    const assertHeld = (): void => {
      if (performance.now() > this.#validUntil) {
        throw new LeaseHeldError(subscriptionId, null, "this member's lease ran out before it renewed it; the next holder resumes from the checkpoint");
      }
    };
    const lease = { name: this.#partitionLease(partition), holder: this.memberId, epoch };
    const checkpoints: CheckpointStore = {
      load: (id) => source.checkpoints.load(id),
      store: async (id, position) => {
        if (!(await source.leases.storeCheckpoint(lease, id, position))) {
          throw new LeaseHeldError(subscriptionId, null, 'another member took the partition over; it resumes from its checkpoint');
        }
      },
    };
    const count = this.#partitionCount;
    const subscription = startSubscription(
      {
        readAll: <T extends Event>(query: Parameters<SubscriptionSource['readAll']>[0]) => {
          assertHeld();
          return source.readAll<T>(query);
        },
        headPosition: () => source.headPosition(),
        waitForAppend: (ms, signal) => source.waitForAppend(ms, signal),
        checkpoints,
        ...(source.deadLetters && { deadLetters: source.deadLetters }),
      },
      {
        ...this.#subscribeOptions(partition),
        handler: async (event: RecordedEvent) => {
          await this.#options.handler(event, context);
          if (this.#highest === null || event.position > this.#highest) this.#highest = event.position;
        },
      },
      { accept: (event) => partitionOf(event.streamId, count) === partition, reportAs: subscriptionId },
    );
    const running = { subscription, epoch };
    this.#running.set(partition, running);
    subscription.done.catch((error: unknown) => {
      if (this.#running.get(partition) === running) this.#running.delete(partition);
      // A handler that kept failing stops the member; a lost lease only this partition (the next heartbeat takes it again if it can).
      if (error instanceof SubscriptionFailedError) {
        this.#failure ??= error;
        this.#abort.abort();
      }
    });
  }
}
