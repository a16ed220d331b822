/**
 * One AMQP connection that comes back: lost, it is reopened with backoff (and jitter) for as
 * long as the transport is open; callers wait for it up to `unavailableAfterMs`, then get a
 * `TransportUnavailableError`. Channels belong to one connection's life (`generation`): their
 * owners reopen them when `onConnected` tells them a new one is up.
 */
import amqp, { type ChannelModel } from 'amqplib';
import { TransportClosedError } from '@eventloom/core';
import { coalesceWrites } from './coalesce-writes.js';
import { brokerText, KIND, unavailable } from './errors.js';
import type { ResolvedOptions } from './options.js';

export interface Live {
  readonly model: ChannelModel;
  readonly generation: number;
}

export class ReconnectingConnection {
  private live: Live | null = null;
  private connecting: Promise<void> | null = null;
  private generation = 0;
  private closed = false;
  private lastError: unknown = null;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(live: Live) => void>();
  private downSince: number | null = null;

  constructor(private readonly options: ResolvedOptions) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called with each new connection after the first (reconnects). */
  onConnected(listener: (live: Live) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The connection, waiting for it while it is being reopened, at most `unavailableAfterMs` in all. */
  async get(): Promise<Live> {
    for (;;) {
      if (this.closed) throw new TransportClosedError(KIND);
      if (this.live) return this.live;
      this.connecting ??= this.connectLoop();
      const since = this.downSince ?? Date.now();
      const left = since + this.options.unavailableAfterMs - Date.now();
      if (left <= 0) throw this.unavailableError();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
      if (!this.live && !this.closed && Date.now() >= since + this.options.unavailableAfterMs) throw this.unavailableError();
    }
  }

  /** Closes the connection for good. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const live = this.live;
    this.live = null;
    this.wake();
    if (live) await closeChannel(live.model, 5_000);
  }

  /** Drops the socket without a protocol close, as a killed process does (tests). */
  destroy(): void {
    this.closed = true;
    const live = this.live;
    this.live = null;
    this.wake();
    const stream = (live?.model.connection as unknown as { stream?: { destroy(error?: Error): void } } | undefined)?.stream;
    // With an error, so amqplib sees the socket fail and closes its channels (a bare destroy it never notices).
    stream?.destroy(new Error('connection abandoned (destroy)'));
  }

  private unavailableError(): Error {
    return unavailable(
      `no connection to ${redact(this.options.url)} for ${this.options.unavailableAfterMs} ms${this.lastError ? ` (last error: ${brokerText(this.lastError)})` : ''}`,
      this.lastError ?? undefined,
    );
  }

  private async connectLoop(): Promise<void> {
    this.downSince ??= Date.now();
    let delay = this.options.reconnectInitialDelayMs;
    try {
      while (!this.closed) {
        try {
          const model = await amqp.connect(withHeartbeat(this.options.url, this.options.heartbeatSeconds), { noDelay: this.options.noDelay });
          if (this.closed) {
            await model.close().catch(() => undefined);
            return;
          }
          this.attach(model);
          return;
        } catch (error) {
          this.lastError = error;
          const jittered = delay * (0.8 + Math.random() * 0.4);
          await new Promise((resolve) => setTimeout(resolve, jittered));
          delay = Math.min(this.options.reconnectMaxDelayMs, delay * 2);
        }
      }
    } finally {
      this.connecting = null;
      this.wake();
    }
  }

  private attach(model: ChannelModel): void {
    coalesceWrites(model);
    const live: Live = { model, generation: ++this.generation };
    this.live = live;
    this.downSince = null;
    this.lastError = null;
    // Without an 'error' listener a broker-side close would throw from the emitter.
    model.on('error', (error: unknown) => {
      this.lastError = error;
    });
    model.on('close', (error?: unknown) => {
      if (error) this.lastError = error;
      if (this.live !== live) return;
      this.live = null;
      if (this.closed) return;
      this.downSince = Date.now();
      this.connecting ??= this.connectLoop();
    });
    this.wake();
    if (live.generation > 1) for (const listener of this.listeners) listener(live);
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** The URL with the heartbeat asked for, unless it names one itself. */
function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}

/** Closes `channel`, waiting at most `ms` for the broker's reply (a dead socket never gives one). */
export async function closeChannel(channel: { close(): Promise<void> }, ms = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([channel.close().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
