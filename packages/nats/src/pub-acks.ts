/**
 * JetStream publishes awaited on their PubAcks through one reply subscription of our own, as the
 * client's request mux does but without its per-request costs: the client builds a
 * `RequestError` (with a stack) when it cancels every request it has already answered, a timer
 * per request and an options copy per publish — 5-8 % of a publish+consume profile. Here a
 * publish is a plain `publish` with a reply subject `<inbox>.<n>`, answered through a map, and
 * one timer sweeps the ones past their time.
 *
 * Errors are the client's own, so callers tell them apart as before: `TimeoutError` when no
 * PubAck came in time, `JetStreamApiError` for an error answer, a `JetStreamError` "jetstream is
 * not enabled" when nobody answered (what the client's publish throws then).
 */
import { JetStreamApiError, JetStreamError, type ApiError } from '@nats-io/jetstream';
import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

interface Waiter {
  readonly subject: string;
  readonly deadline: number;
  resolve(): void;
  reject(error: unknown): void;
}

const decoder = new TextDecoder();
const SWEEP_MS = 100;

export class PubAcks {
  private readonly prefix: string;
  private readonly waiting = new Map<string, Waiter>();
  private next = 0;
  private sub: Subscription | null = null;
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = `${createInbox()}.`;
  }

  /** Publishes and resolves on the stream's PubAck. */
  publish(subject: string, body: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<void> {
    this.sub ??= this.subscribe();
    this.sweeper ??= this.startSweeping();
    const token = String(this.next++);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(token, { subject, deadline: Date.now() + timeoutMs, resolve, reject });
      try {
        this.nc.publish(subject, body, { reply: this.prefix + token, headers });
      } catch (error) {
        this.waiting.delete(token);
        reject(error);
      }
    });
  }

  private subscribe(): Subscription {
    const sub = this.nc.subscribe(`${this.prefix}*`, { callback: (_error, msg) => this.answer(msg) });
    void sub.closed.then(() => {
      this.sub = null;
      this.failAll(new errors.ClosedConnectionError());
    });
    return sub;
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const waiter = this.waiting.get(token);
    if (!waiter) return;
    this.waiting.delete(token);
    if (msg.headers?.code === 503) {
      waiter.reject(new JetStreamError('jetstream is not enabled', { cause: new errors.NoRespondersError(waiter.subject) }));
      return;
    }
    let answer: { error?: ApiError; stream?: string };
    try {
      answer = JSON.parse(decoder.decode(msg.data)) as { error?: ApiError; stream?: string };
    } catch (error) {
      waiter.reject(new JetStreamError('invalid ack response', { cause: error }));
      return;
    }
    if (answer.error) waiter.reject(new JetStreamApiError(answer.error));
    else if (!answer.stream) waiter.reject(new JetStreamError('invalid ack response'));
    else waiter.resolve();
  }

  private startSweeping(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => {
      const now = Date.now();
      // One timeout for every publish, so the map's order is the deadlines' order.
      for (const [token, waiter] of this.waiting) {
        if (waiter.deadline > now) break;
        this.waiting.delete(token);
        waiter.reject(new errors.TimeoutError());
      }
    }, SWEEP_MS);
    timer.unref();
    return timer;
  }

  private failAll(error: unknown): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  close(): void {
    this.sub?.unsubscribe();
    this.failAll(new errors.ClosedConnectionError());
  }
}
