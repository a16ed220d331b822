/**
 * The consumer engine: one receive loop per consumer over any `Receiver`. It keeps at most
 * `prefetch` messages claimed and unfinished, runs `concurrency` handlers, never two of one
 * partition key at once, decodes and checks what it gets, retries with backoff and jitter,
 * dead-letters what it gives up on (nothing is dropped), renews leases while handlers run,
 * batches acks and shuts down gracefully. Every transport runs this same loop.
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError, InvalidMessageError } from '../../envelope/errors.js';
import type { Event } from '../../envelope/event.js';
import { decodeMessage } from '../codec.js';
import { DeliveryLostError } from '../delivery-lost.js';
import type { DeadLetter, DeadLetterReason } from '../dead-letters.js';
import type { DeadLetterDraft, ReceivedMessage, Receiver, TransportDriver } from '../driver.js';
import type { ConsumeSource, DeliveredMessage, Destination, MessageEnvelope } from '../message.js';
import { consumerName } from '../names.js';
import type { Tracing } from '../tracing.js';
import type { Consumer, ConsumerEvent, ConsumerStatus, MessageHandler, MessageHandlers, Transport } from '../transport.js';
import { describeError, reportConsumerEvent } from './events.js';
import { messageRetryDelay } from './failure-policy.js';
import { HandlerContext, type CausedSend } from './message-context.js';
import type { ResolvedConsumerOptions } from './options.js';
import { checkAgainstSchemas } from './schema-check.js';
import { isTransientTransportError, transportBackoff } from './transient.js';

/** What the consumer needs from the transport that started it. */
export interface ConsumerHost {
  readonly driver: TransportDriver;
  readonly transport: Transport;
  readonly causedSend: CausedSend;
  readonly tracing: Tracing;
  /** Called once the consumer has stopped or failed. */
  readonly onFinished: (consumer: MessageConsumer) => void;
}

type JobState = 'queued' | 'running' | 'holding' | 'settling' | 'done' | 'released';

/** One claimed message on its way through the consumer. */
interface Job {
  readonly received: ReceivedMessage;
  /** As decoded (what a dead letter keeps); `null` until decoded. */
  original: MessageEnvelope | null;
  /** As checked against the schemas (what the handler sees). */
  checked: MessageEnvelope | null;
  /** Attempts failed and re-run here (a `'hold'` retry), beyond the transport's delivery count. */
  heldAttempts: number;
  firstFailedAt: string | null;
  state: JobState;
  holdTimer: ReturnType<typeof setTimeout> | null;
  /** The receive it came in with. */
  readonly batch: JobBatch;
}

/**
 * The jobs of one receive, kept together until every one is done: what the consumer holds is
 * found by walking these (lease renewal, stop) instead of adding each message to a set and
 * removing it again, which was a tenth of the hand-off's cost. Done jobs are dropped from a batch
 * once they are most of it, so a slow message never keeps its batch's finished ones alive.
 */
interface JobBatch {
  jobs: Job[];
  open: number;
}

type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs: number; readonly attempt: number; readonly error: unknown }
  | { readonly kind: 'dead-letter'; readonly reason: DeadLetterReason; readonly error: string; readonly stack: string | null; readonly cause: unknown };

const ACK: Outcome = Object.freeze({ kind: 'ack' });

/** A transport call's answer for a delivery no longer held (`DeliveryLostError`). */
const LOST: unique symbol = Symbol('lost');

/** Acks wait at most one turn of the event loop, or until this many are ready. */
const ACK_BATCH = 256;

export class MessageConsumer implements Consumer {
  readonly name: string;
  readonly ready: Promise<void>;
  readonly done: Promise<void>;
  #status: ConsumerStatus = 'starting';
  #handled = 0;

  readonly #source: ConsumeSource;
  readonly #destination: Destination;
  readonly #handlers: MessageHandlers<Event>;
  readonly #options: ResolvedConsumerOptions;
  readonly #host: ConsumerHost;
  #receiver: Receiver | null = null;

  /** Claimed and unfinished: what prefetch bounds, by receive. */
  readonly #batches = new Set<JobBatch>();
  #claimedCount = 0;
  readonly #runnable: Job[] = [];
  #runnableHead = 0;
  /** Partition keys with a job in the consumer, and the jobs of that key waiting behind it. */
  readonly #keys = new Map<string, Job[]>();
  #running = 0;
  /** Jobs running a handler or settling: what a graceful stop waits for. */
  #busy = 0;
  #acks: Job[] = [];
  /** The acks' received messages, gathered as they come (what the receiver takes). */
  #ackMessages: ReceivedMessage[] = [];
  #ackFlushScheduled = false;
  readonly #inFlightOps = new Set<Promise<unknown>>();

  readonly #receiveAbort = new AbortController();
  readonly #handlerAbort = new AbortController();
  #wakeLoop: (() => void) | null = null;
  #wakeIdle: (() => void) | null = null;
  #extendTimer: ReturnType<typeof setInterval> | null = null;
  #extending = false;
  #stopping: Promise<void> | null = null;
  #shortenDrain: ((drainMs: number) => void) | null = null;
  #resolveReady!: () => void;
  #rejectReady!: (error: unknown) => void;
  #resolveDone!: () => void;
  #rejectDone!: (error: unknown) => void;

  constructor(source: ConsumeSource, handlers: MessageHandlers<Event>, options: ResolvedConsumerOptions, host: ConsumerHost) {
    this.#source = source;
    this.name = consumerName(source);
    this.#destination = 'queue' in source ? { kind: 'queue', name: source.queue } : { kind: 'topic', name: source.topic };
    this.#handlers = handlers;
    this.#options = options;
    this.#host = host;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // Whoever does not await them must not get an unhandled rejection; those who do still see it.
    this.ready.catch(() => {});
    this.done.catch(() => {});
    void this.#start();
  }

  get status(): ConsumerStatus {
    return this.#status;
  }

  get handled(): number {
    return this.#handled;
  }

  stop(options?: { readonly drainMs?: number }): Promise<void> {
    const drainMs = options?.drainMs ?? 10_000;
    if (typeof drainMs !== 'number' || !Number.isFinite(drainMs) || drainMs < 0) {
      return Promise.reject(new InvalidArgumentError('drainMs', `must be a non-negative number of milliseconds, got ${describeValue(drainMs)}`));
    }
    // A second stop with a shorter drain (close() already stopping with the default) shortens it.
    this.#shortenDrain?.(drainMs);
    if (this.#stopping === null) this.#stopping = this.#stop(drainMs);
    return this.#stopping.then(() => this.done.catch(() => {}));
  }

  // ---- starting and the receive loop ----

  async #start(): Promise<void> {
    const { driver } = this.#host;
    try {
      await driver.declare([this.#source]);
      this.#receiver = await driver.openReceiver(this.#source, {
        consumer: this.name,
        visibilityTimeoutMs: this.#options.visibilityTimeoutMs,
        prefetch: this.#options.prefetch,
      });
    } catch (error) {
      this.#report({ type: 'error', consumer: this.name, error, willRetry: false });
      this.#status = 'failed';
      this.#rejectReady(error);
      this.#rejectDone(error);
      this.#host.onFinished(this);
      return;
    }
    this.#status = 'running';
    this.#resolveReady();
    this.#report({ type: 'ready', consumer: this.name });
    const every = Math.max(10, Math.floor(this.#options.visibilityTimeoutMs / 3));
    this.#extendTimer = setInterval(() => this.#extendLeases(), every);
    this.#extendTimer.unref?.();
    await this.#loop();
  }

  async #loop(): Promise<void> {
    const { prefetch } = this.#options;
    // Fetch again once half the window is free, so receives come in batches, not one by one.
    const lowWater = Math.max(1, Math.floor(prefetch / 2));
    let failures = 0;
    let empties = 0;
    let asked = 0;
    while (this.#status === 'running') {
      const room = prefetch - this.#claimedCount;
      if (room < lowWater) {
        await new Promise<void>((resolve) => (this.#wakeLoop = resolve));
        this.#wakeLoop = null;
        continue;
      }
      let batch: readonly ReceivedMessage[];
      try {
        asked = performance.now();
        batch = await this.#receiver!.receive(room, this.#receiveAbort.signal);
        failures = 0;
      } catch (error) {
        if (this.#status !== 'running') break;
        if (!isTransientTransportError(error)) {
          this.#fail(error);
          return;
        }
        failures++;
        this.#report({ type: 'error', consumer: this.name, error, willRetry: true });
        await sleep(transportBackoff(failures), this.#receiveAbort.signal);
        continue;
      }
      if (batch.length === 0) {
        // The contract says receive waits; a receiver that answers empty at once anyway (closed
        // underneath, or a bug) must not spin this loop without ever letting timers run. An empty
        // answer after a real wait (a broker's pull that expired) is normal and costs nothing.
        empties = performance.now() - asked < 2 ? empties + 1 : 0;
        if (empties > 1) await sleep(Math.min(2 ** (empties - 2), 100), this.#receiveAbort.signal);
        continue;
      }
      empties = 0;
      const group: JobBatch = { jobs: new Array<Job>(batch.length), open: batch.length };
      this.#batches.add(group);
      this.#claimedCount += batch.length;
      for (let i = 0; i < batch.length; i++) this.#accept(batch[i]!, group, i);
      this.#pump();
    }
  }

  #accept(received: ReceivedMessage, batch: JobBatch, index: number): void {
    const job: Job = { received, original: null, checked: null, heldAttempts: 0, firstFailedAt: null, state: 'queued', holdTimer: null, batch };
    batch.jobs[index] = job;
    if (this.#status !== 'running') return; // released by stop
    const key = received.partitionKey;
    if (key !== null) {
      const waiting = this.#keys.get(key);
      if (waiting !== undefined) {
        waiting.push(job);
        return;
      }
      this.#keys.set(key, []);
    }
    this.#runnable.push(job);
  }

  #pump(): void {
    const { concurrency } = this.#options;
    while (this.#running < concurrency && this.#runnableHead < this.#runnable.length && this.#status === 'running') {
      const job = this.#runnable[this.#runnableHead++]!;
      if (this.#runnableHead > 1024 && this.#runnableHead * 2 > this.#runnable.length) {
        this.#runnable.splice(0, this.#runnableHead);
        this.#runnableHead = 0;
      }
      if (job.state !== 'queued') continue;
      this.#run(job);
    }
  }

  // ---- one message ----

  /**
   * Runs one message. A synchronous handler of an already decoded message takes no promise at
   * all (the in-process hand-off is most of a memory transport's cost); anything asynchronous
   * continues in `#finishRun`.
   */
  #run(job: Job): void {
    job.state = 'running';
    this.#running++;
    this.#busy++;
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = this.#attempt(job);
    } catch (error) {
      // #attempt catches handlers' errors; this is the engine's own bug, still never a lost message.
      outcome = deadLetterOutcome('max-attempts', error);
    }
    if (outcome instanceof Promise) {
      void this.#finishRun(job, outcome);
      return;
    }
    this.#running--;
    if (outcome.kind === 'ack') {
      job.state = 'settling';
      this.#ack(job);
      this.#busyDone();
      return; // the caller pumps
    }
    void this.#settleAndPump(job, outcome);
  }

  async #finishRun(job: Job, pending: Promise<Outcome>): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await pending;
    } catch (error) {
      outcome = deadLetterOutcome('max-attempts', error);
    }
    this.#running--;
    await this.#settleAndPump(job, outcome);
  }

  async #settleAndPump(job: Job, outcome: Outcome): Promise<void> {
    // Stop may have handed it back while the handler ran (state changed under an await).
    if (job.state === 'released') {
      this.#busyDone();
      return;
    }
    job.state = 'settling';
    if (outcome.kind === 'ack') this.#ack(job);
    else await this.#settle(job, outcome);
    this.#busyDone();
    this.#pump();
  }

  #attempt(job: Job): Outcome | Promise<Outcome> {
    const { received } = job;
    if (job.original === null) {
      try {
        job.original = received.kind === 'envelope' ? received.envelope : decodeMessage(received.headers, received.body);
      } catch (error) {
        return deadLetterOutcome('undecodable', error instanceof InvalidMessageError ? error : new InvalidMessageError(describeError(error), { cause: error }));
      }
    }
    const envelope = job.original;
    const handler = (this.#handlers as Record<string, MessageHandler<Event> | undefined>)[envelope.type];
    if (typeof handler !== 'function') {
      if (this.#options.unhandled === 'ack') return ACK;
      return deadLetterOutcome('unknown-type', new UnknownMessageTypeError(this.name, envelope.type));
    }
    if (job.checked === null) {
      const { schemas } = this.#options;
      if (schemas === undefined || !schemas.has(envelope.type)) {
        job.checked = envelope;
      } else {
        return checkAgainstSchemas(envelope, schemas).then(
          (checked) => {
            job.checked = checked;
            return this.#handle(job, handler, checked);
          },
          (error: unknown) => deadLetterOutcome('invalid-schema', error),
        );
      }
    }
    return this.#handle(job, handler, job.checked);
  }

  #handle(job: Job, handler: MessageHandler<Event>, envelope: MessageEnvelope): Outcome | Promise<Outcome> {
    const attempt = job.received.deliveryCount + job.heldAttempts;
    // Written out, not spread: one object shape for every message keeps the hand-off fast.
    const message: DeliveredMessage = {
      id: envelope.id,
      type: envelope.type,
      schemaVersion: envelope.schemaVersion,
      time: envelope.time,
      source: envelope.source,
      correlationId: envelope.correlationId,
      causationId: envelope.causationId,
      subject: envelope.subject,
      partitionKey: envelope.partitionKey,
      data: envelope.data,
      metadata: envelope.metadata,
      attempt,
      destination: this.#destination,
    };
    const context = new HandlerContext(this.#host.transport, this.#handlerAbort.signal, this.#host.causedSend, envelope);
    let result: unknown;
    try {
      result = this.#host.tracing.process(message, this.name, handler as (message: DeliveredMessage, context: HandlerContext) => unknown, context);
    } catch (error) {
      return this.#outcome(context, { error }, attempt);
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(result as PromiseLike<unknown>).then(
        () => this.#outcome(context, null, attempt),
        (error: unknown) => this.#outcome(context, { error }, attempt),
      );
    }
    return this.#outcome(context, null, attempt);
  }

  #outcome(context: HandlerContext, failure: { error: unknown } | null, attempt: number): Outcome {
    const decision = context.decision;
    if (failure === null && decision === null) return ACK;
    if (failure === null && decision?.kind === 'dead-letter') return deadLetterOutcome('rejected', new MessageRejectedError(decision.reason));
    const error = failure !== null ? failure.error : new RetryRequestedError();
    const { failurePolicy } = this.#options;
    if (attempt >= failurePolicy.maxAttempts) return deadLetterOutcome('max-attempts', error);
    const asked = failure === null && decision?.kind === 'retry' ? decision.delayMs : undefined;
    return { kind: 'retry', delayMs: asked ?? messageRetryDelay(failurePolicy, attempt), attempt, error };
  }

  #ack(job: Job): void {
    this.#acks.push(job);
    this.#ackMessages.push(job.received);
    this.#scheduleAckFlush();
    this.#handled++;
    this.#releaseKey(job);
  }

  async #settle(job: Job, outcome: Outcome): Promise<void> {
    const receiver = this.#receiver!;
    const now = new Date().toISOString();
    switch (outcome.kind) {
      case 'ack':
        this.#ack(job);
        return;
      case 'retry': {
        job.firstFailedAt ??= job.received.firstFailedAt ?? now;
        this.#report({ type: 'retrying', consumer: this.name, messageId: job.original?.id ?? '', attempt: outcome.attempt, delayMs: outcome.delayMs, error: outcome.error });
        const answer = await this.#withRetries(() => receiver.retry(job.received, outcome.delayMs, describeError(outcome.error)));
        if (answer === undefined) return;
        if (answer === LOST) {
          this.#finish(job);
          return;
        }
        // Retried either way: `handled` counts each attempt brought to an end, held or redelivered.
        this.#handled++;
        if (answer === 'hold') {
          this.#hold(job, outcome.delayMs);
          return;
        }
        this.#finish(job);
        return;
      }
      case 'dead-letter': {
        const draft: DeadLetterDraft = {
          message: job.original,
          raw: job.original === null && job.received.kind === 'raw' ? { headers: job.received.headers, body: Buffer.from(job.received.body).toString('utf8') } : null,
          source: this.#source,
          consumer: this.name,
          reason: outcome.reason,
          error: outcome.error,
          stack: outcome.stack,
          attempts: job.received.deliveryCount + job.heldAttempts,
          firstFailedAt: job.firstFailedAt ?? job.received.firstFailedAt ?? now,
          lastFailedAt: now,
        };
        const deadLetter = await this.#withRetries(() => receiver.deadLetter(job.received, draft));
        if (deadLetter === undefined) return;
        if (deadLetter === LOST) {
          this.#finish(job);
          return;
        }
        this.#handled++;
        this.#report({ type: 'dead-lettered', consumer: this.name, deadLetter: deadLetter satisfies DeadLetter });
        this.#finish(job);
        return;
      }
    }
  }

  /** The transport cannot redeliver in order: keep the message, wait here, and run it again. */
  #hold(job: Job, delayMs: number): void {
    job.heldAttempts++;
    job.state = 'holding';
    job.holdTimer = setTimeout(() => {
      job.holdTimer = null;
      if (job.state !== 'holding' || this.#status !== 'running') return;
      job.state = 'queued';
      // Its key stays taken by it, so it goes first among its key's messages wherever it queues.
      this.#runnable.push(job);
      this.#pump();
    }, delayMs);
  }

  /**
   * Runs a transport call, waiting out transient errors; `undefined` when the consumer gave up
   * (stopping, or failed); `LOST` when the delivery's lease had run out and the message is
   * another consumer's now (reported; the consumer goes on: a lost race is not its failure).
   */
  async #withRetries<T>(operation: () => Promise<T>): Promise<T | undefined | typeof LOST> {
    let failures = 0;
    for (;;) {
      const pending = operation();
      this.#inFlightOps.add(pending);
      try {
        return await pending;
      } catch (error) {
        if (this.#status === 'stopped' || this.#status === 'failed') return undefined;
        if (error instanceof DeliveryLostError) {
          this.#report({ type: 'error', consumer: this.name, error, willRetry: false });
          return LOST;
        }
        if (!isTransientTransportError(error)) {
          this.#fail(error);
          return undefined;
        }
        failures++;
        this.#report({ type: 'error', consumer: this.name, error, willRetry: this.#status === 'running' });
        // Stopping: the message stays claimed and comes back after the visibility timeout.
        if (this.#status !== 'running') return undefined;
        await sleep(transportBackoff(failures), this.#receiveAbort.signal);
      } finally {
        this.#inFlightOps.delete(pending);
      }
    }
  }

  #scheduleAckFlush(): void {
    if (this.#acks.length >= ACK_BATCH) {
      void this.#flushAcks();
      return;
    }
    if (this.#ackFlushScheduled) return;
    this.#ackFlushScheduled = true;
    setImmediate(() => {
      this.#ackFlushScheduled = false;
      void this.#flushAcks();
    });
  }

  async #flushAcks(): Promise<void> {
    if (this.#acks.length === 0) return;
    const batch = this.#acks;
    const messages = this.#ackMessages;
    this.#acks = [];
    this.#ackMessages = [];
    this.#busy++;
    const acked = await this.#withRetries(() => this.#receiver!.ack(messages).then(() => true));
    for (let i = 0; i < batch.length; i++) this.#done(batch[i]!);
    if (acked === undefined) {
      // Not acked: the transport delivers them again (at least once); nothing is lost.
    }
    this.#busyDone();
    this.#wakeLoop?.();
  }

  #finish(job: Job): void {
    this.#done(job);
    this.#releaseKey(job);
    this.#wakeLoop?.();
  }

  /** No longer held: out of the prefetch count, and out of its batch once most of the batch is done. */
  #done(job: Job): void {
    // Handed back by a stop already (or settled twice by a bug): counted once.
    if (job.state === 'done' || job.state === 'released') return;
    job.state = 'done';
    this.#claimedCount--;
    const batch = job.batch;
    if (--batch.open === 0) {
      this.#batches.delete(batch);
    } else if (batch.jobs.length > 32 && batch.open * 4 < batch.jobs.length) {
      batch.jobs = batch.jobs.filter((held) => held.state !== 'done');
    }
  }

  /** Every job held and not yet done or handed back. */
  #held(): Job[] {
    const held: Job[] = [];
    for (const batch of this.#batches) for (const job of batch.jobs) if (job.state !== 'done' && job.state !== 'released') held.push(job);
    return held;
  }

  /** The next message of the job's key may run. */
  #releaseKey(job: Job): void {
    const key = job.received.partitionKey;
    if (key === null) return;
    const waiting = this.#keys.get(key);
    if (waiting === undefined) return;
    const next = waiting.shift();
    if (next === undefined) this.#keys.delete(key);
    else this.#runnable.push(next);
  }

  #busyDone(): void {
    this.#busy--;
    if (this.#busy === 0) this.#wakeIdle?.();
  }

  #extendLeases(): void {
    if (this.#extending || this.#status !== 'running' || this.#claimedCount === 0) return;
    const messages = this.#held().map((job) => job.received);
    if (messages.length === 0) return;
    this.#extending = true;
    this.#receiver!.extend(messages, this.#options.visibilityTimeoutMs).then(
      () => (this.#extending = false),
      (error: unknown) => {
        this.#extending = false;
        // A lease not renewed means a possible second delivery, not a loss: report and go on.
        if (this.#status === 'running') this.#report({ type: 'error', consumer: this.name, error, willRetry: true });
      },
    );
  }

  // ---- stopping ----

  async #stop(drainMs: number): Promise<void> {
    if (this.#status === 'starting') {
      await this.ready.catch(() => {});
      if ((this.#status as ConsumerStatus) === 'failed') return;
    }
    if (this.#status === 'failed' || this.#status === 'stopped') return;
    this.#status = 'stopping';
    this.#receiveAbort.abort();
    this.#wakeLoop?.();
    for (const job of this.#held()) {
      if (job.state === 'holding' && job.holdTimer !== null) {
        clearTimeout(job.holdTimer);
        job.holdTimer = null;
      }
    }
    if (this.#busy > 0) {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        let timer = setTimeout(resolve, drainMs);
        let deadline = started + drainMs;
        this.#shortenDrain = (ms) => {
          if (started + ms >= deadline) return;
          deadline = started + ms;
          clearTimeout(timer);
          timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        };
        this.#wakeIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeIdle = null;
      this.#shortenDrain = null;
    }
    // Past the drain, what is unfinished goes back — marked before the handlers' signals abort,
    // so a handler that returns as soon as it sees the abort cannot turn its message into an ack
    // queued behind a closing receiver (neither acked nor released: back only after its lease).
    const unfinished = this.#takeUnfinished();
    this.#handlerAbort.abort();
    await this.#flushAcks();
    // Transport calls under way (a dead letter being written) finish before the receiver closes.
    await Promise.race([Promise.allSettled([...this.#inFlightOps]), sleep(2_000)]);
    await this.#release(unfinished);
    await this.#closeReceiver();
    this.#status = 'stopped';
    this.#report({ type: 'stopped', consumer: this.name });
    this.#resolveDone();
    this.#host.onFinished(this);
  }

  /** Jobs not yet settling, marked released: a handler still running finds its outcome ignored. */
  #takeUnfinished(): Job[] {
    const unfinished: Job[] = [];
    for (const job of this.#held()) {
      if (job.state === 'queued' || job.state === 'running' || job.state === 'holding') {
        job.state = 'released';
        unfinished.push(job);
      }
    }
    return unfinished;
  }

  async #release(unfinished: readonly Job[]): Promise<void> {
    // What is still settling (an ack or dead letter under way) is no longer counted: the consumer is done.
    for (const job of this.#held()) job.state = 'done';
    this.#batches.clear();
    this.#claimedCount = 0;
    if (unfinished.length === 0 || this.#receiver === null) return;
    try {
      await this.#receiver.release(unfinished.map((job) => job.received));
    } catch (error) {
      // They come back after the visibility timeout instead.
      this.#report({ type: 'error', consumer: this.name, error, willRetry: false });
    }
  }

  async #closeReceiver(): Promise<void> {
    if (this.#extendTimer !== null) clearInterval(this.#extendTimer);
    this.#extendTimer = null;
    try {
      await this.#receiver?.close();
    } catch (error) {
      this.#report({ type: 'error', consumer: this.name, error, willRetry: false });
    }
  }

  /** A transport error time cannot fix: the consumer stops visibly, its messages handed back where possible. */
  #fail(error: unknown): void {
    if (this.#status === 'failed' || this.#status === 'stopped') return;
    this.#status = 'failed';
    this.#report({ type: 'error', consumer: this.name, error, willRetry: false });
    const unfinished = this.#takeUnfinished();
    this.#receiveAbort.abort();
    this.#handlerAbort.abort();
    this.#wakeLoop?.();
    this.#wakeIdle?.();
    void (async () => {
      await this.#release(unfinished);
      await this.#closeReceiver();
      this.#rejectDone(error);
      this.#host.onFinished(this);
    })();
  }

  #report(event: ConsumerEvent): void {
    reportConsumerEvent(event, this.#options.onEvent, this.#options.logger);
  }
}

function deadLetterOutcome(reason: DeadLetterReason, error: unknown): Outcome {
  return { kind: 'dead-letter', reason, error: describeError(error), stack: error instanceof Error ? (error.stack ?? null) : null, cause: error };
}

/** Dead-letter reason `unknown-type`: the consumer has no handler for the message's type. */
class UnknownMessageTypeError extends Error {
  constructor(consumer: string, type: string) {
    super(`consumer ${consumer} has no handler for message type '${type}'; add one, or consume with unhandled: 'ack' to skip such messages`);
    this.name = 'UnknownMessageType';
  }
}

/** Dead-letter reason `rejected`: the handler called `context.deadLetter(reason)`. */
class MessageRejectedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Rejected';
  }
}

/** The handler called `context.retry()` on the last attempt. */
class RetryRequestedError extends Error {
  constructor() {
    super('the handler asked for a retry (context.retry) and no attempts are left');
    this.name = 'RetryRequested';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
  if (signal.aborted) return Promise.resolve();
  const abort = signal;
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
