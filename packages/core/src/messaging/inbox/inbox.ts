/**
 * The inbox: effectively-once handling on top of at-least-once delivery. A consumer's dedupe
 * record — its name and the message id, never the id alone, so two consumers of one message both
 * run — is written in the same transaction as the handler's own writes. A redelivered message
 * finds its record and changes nothing; a handler that fails (or a process that dies before the
 * commit) leaves no record, so the redelivery runs it again.
 *
 * Each store supplies the transaction (`Tx`: a SQLite connection inside BEGIN, a `pg` client
 * inside BEGIN, a memory unit of work); the rules and checks are here, once.
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import { unstorableText } from '../../envelope/text.js';

/** What `handle` returns: the handler's result, or that the message was handled before. */
export type InboxOutcome<R> = { readonly duplicate: false; readonly result: R } | { readonly duplicate: true };

/** What the inbox needs of a message: its id (the envelope's `id`). */
export interface InboxMessage {
  readonly id: string;
}

export interface InboxPruneOptions {
  /** Records of messages handled before this time are deleted (a `Date` or an ISO string). */
  readonly olderThan: Date | string;
}

/**
 * How long records are kept when the inbox prunes by itself. Keep them longer than a message can
 * be redelivered (the transport's retention, the longest retry and dead-letter redrive you allow):
 * a message redelivered after its record is gone runs again.
 */
export interface InboxRetention {
  /** Records older than this are deleted. */
  readonly keepMs: number;
  /** How often to prune. Default: a tenth of `keepMs`, between 1 s and 1 h. */
  readonly everyMs?: number;
}

export interface Inbox<Tx> {
  /**
   * Runs `fn` in a transaction of the store, unless `consumer` has handled `message` before.
   * The record and `fn`'s writes through `tx` commit together, or neither does (fn throws: the
   * error passes through and nothing is recorded). Concurrent deliveries of one message to one
   * consumer: one runs, the others wait for it and come back `duplicate`.
   */
  handle<R>(consumer: string, message: InboxMessage, fn: (tx: Tx) => Promise<R> | R): Promise<InboxOutcome<R>>;
  /** Whether `consumer` has a record of `messageId`. */
  has(consumer: string, messageId: string): Promise<boolean>;
  /** Deletes records older than `olderThan`; returns how many. */
  prune(options: InboxPruneOptions): Promise<number>;
  /** Stops periodic pruning (and closes what the inbox opened itself). */
  close(): Promise<void>;
}

/** Longest consumer name and message id the inbox keeps (both are part of its key). */
export const MAX_INBOX_KEY_LENGTH = 255;

export function assertInboxConsumer(consumer: unknown): asserts consumer is string {
  assertKeyText(consumer, 'consumer', 'the consumer\'s name, e.g. the queue or group it reads: "welcome-email"');
}

export function assertInboxMessage(message: unknown): asserts message is InboxMessage {
  if (message === null || typeof message !== 'object') {
    throw new InvalidArgumentError('message', `must be the delivered message (an object with its id), got ${describeValue(message)}`);
  }
  assertKeyText((message as { id?: unknown }).id, 'message.id', 'the message id the transport delivered');
}

function assertKeyText(value: unknown, field: string, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_INBOX_KEY_LENGTH) {
    throw new InvalidArgumentError(field, `must be ${what}: a non-empty string of at most ${MAX_INBOX_KEY_LENGTH} characters, got ${describeValue(value)}`);
  }
  const reason = unstorableText(value);
  if (reason !== undefined) throw new InvalidArgumentError(field, reason);
}

export function assertInboxHandler(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', `must be a function (tx) => …, got ${describeValue(fn)}`);
}

/** The cut-off time of `prune`, checked. */
export function pruneCutoff(options: InboxPruneOptions): Date {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', 'must be { olderThan: Date | ISO string }');
  }
  const { olderThan } = options;
  const date = olderThan instanceof Date ? olderThan : typeof olderThan === 'string' ? new Date(olderThan) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('olderThan', `must be a Date or an ISO 8601 string, got ${describeValue(olderThan)}`);
  }
  return date;
}

/** Checks `retention`; returns the interval to prune at. */
export function checkRetention(retention: InboxRetention): { keepMs: number; everyMs: number } {
  if (retention === null || typeof retention !== 'object') {
    throw new InvalidArgumentError('retention', 'must be { keepMs, everyMs? }');
  }
  const { keepMs } = retention;
  if (typeof keepMs !== 'number' || !Number.isFinite(keepMs) || keepMs <= 0) {
    throw new InvalidArgumentError('retention.keepMs', `must be a positive number of milliseconds, got ${describeValue(keepMs)}`);
  }
  const everyMs = retention.everyMs ?? Math.min(3_600_000, Math.max(1_000, keepMs / 10));
  if (typeof everyMs !== 'number' || !Number.isFinite(everyMs) || everyMs <= 0) {
    throw new InvalidArgumentError('retention.everyMs', `must be a positive number of milliseconds, got ${describeValue(everyMs)}`);
  }
  return { keepMs, everyMs };
}

/**
 * Prunes every `everyMs` until the returned function is called. The timer does not keep the
 * process alive; a failed prune is reported and tried again next time (records only pile up).
 */
export function startPeriodicPrune(
  prune: (options: InboxPruneOptions) => Promise<number>,
  retention: InboxRetention,
  onError: (error: unknown) => void = (error) => console.warn('eventloom inbox: pruning old records failed; trying again later', error),
  now: () => Date = () => new Date(),
): () => Promise<void> {
  const { keepMs, everyMs } = checkRetention(retention);
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(() => prune({ olderThan: new Date(now().getTime() - keepMs) }))
      .catch(onError);
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
