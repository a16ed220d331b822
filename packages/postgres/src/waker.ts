/**
 * Wake-ups across processes for the event store (appends) and the queue (sends): one rule for both.
 * In this process a commit rings the waiters itself; other processes hear a NOTIFY on the tenant's
 * channel, through one dedicated connection that LISTENs once something here waits.
 *
 * The channel's name is a random secret kept in `tenant_channels`, which row-level security shows
 * only to the tenant's own sessions, and the payload is empty: another tenant, or any session of
 * the database, learns nothing about this tenant's writes (LISTEN needs no privilege, so the name
 * is the only guard). A wake-up means "look": whatever it announces has committed.
 *
 * The NOTIFY is sent after the commit, on that connection, at most once per `notifyIntervalMs` (the
 * last commit of a burst is always announced). Inside the transaction it would take PostgreSQL's
 * global notify lock through the commit's flush to disk and serialize every concurrent writer; one
 * per commit would cost each sequential write another round trip. Another process's waiter is so
 * woken within about this interval. A lost connection is opened again; waiters poll meanwhile.
 */
import { AppendSignal } from '@eventloom/core/adapter';
import type pg from 'pg';
import { quoteIdent } from './names.js';

export interface WakerTiming {
  /** Longest a commit's NOTIFY waits for others of its burst to share it. */
  readonly notifyIntervalMs: number;
  /** Wait before opening a lost listening connection again. */
  readonly reconnectDelayMs: number;
}

/** The event store's: appends come in bursts from many writers. */
export const APPEND_TIMING: WakerTiming = { notifyIntervalMs: 10, reconnectDelayMs: 1_000 };

export class Waker {
  /** This process's waiters. Ringing it directly wakes them without announcing anything to others. */
  readonly signal = new AppendSignal();
  readonly #connect: () => Promise<pg.Client>;
  readonly #channel: string;
  readonly #timing: WakerTiming;
  #generation = 0;
  #client: Promise<pg.Client | null> | undefined;
  /** The connection on which LISTEN was issued. */
  #listeningOn: pg.Client | undefined;
  #wantListen = false;
  #pending = false;
  #sending = false;
  #lastSent = 0;
  #timer: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(connect: () => Promise<pg.Client>, channel: string, timing: WakerTiming = APPEND_TIMING) {
    this.#connect = connect;
    this.#channel = channel;
    this.#timing = timing;
  }

  /** Read before looking; `wait` with it then returns at once if anything rang since the look. */
  get generation(): number {
    return this.#generation;
  }

  /** Starts listening (once): whoever waits calls it, so that other processes' commits wake it. */
  listen(): void {
    this.#wantListen = true;
    void this.#ready();
  }

  /**
   * Resolves when rung after `generation` was read, after `timeoutMs`, or on abort: a commit
   * between a waiter's look and its wait is never missed. At once when closed.
   */
  wait(generation: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || generation !== this.#generation || this.#closed) return Promise.resolve();
    return this.signal.wait(Math.max(0, timeoutMs), signal);
  }

  /** Something committed here: wake this process's waiters now, other processes' by NOTIFY soon. */
  committed(): void {
    this.#ring();
    this.#announceSoon();
  }

  #ring(): void {
    this.#generation++;
    this.signal.notify();
  }

  #announceSoon(): void {
    if (this.#closed) return;
    this.#pending = true;
    if (this.#timer || this.#sending) return;
    const wait = this.#lastSent + this.#timing.notifyIntervalMs - Date.now();
    if (wait <= 0) {
      void this.#announce();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#announce();
    }, wait);
    this.#timer.unref();
  }

  async #announce(): Promise<void> {
    this.#sending = true;
    this.#pending = false;
    this.#lastSent = Date.now();
    try {
      const client = await this.#ready();
      if (client && !this.#closed) await client.query('SELECT pg_notify($1, NULL)', [this.#channel]);
    } catch {
      // A lost connection is replaced; waiters elsewhere poll meanwhile.
    } finally {
      this.#sending = false;
    }
    if (this.#pending) this.#announceSoon();
  }

  /** The dedicated connection, opened on first use, listening once something here asked for it. */
  async #ready(): Promise<pg.Client | null> {
    const client = await (this.#client ??= this.#open());
    if (client && this.#wantListen && this.#listeningOn !== client && !this.#closed) {
      this.#listeningOn = client;
      try {
        await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
        // Commits from before LISTEN took effect sent their NOTIFY to no one: look now.
        this.#ring();
      } catch {
        this.#listeningOn = undefined;
        await client.end().catch(() => undefined);
      }
    }
    return client;
  }

  async #open(): Promise<pg.Client | null> {
    if (this.#closed) return null;
    let client: pg.Client;
    try {
      client = await this.#connect();
    } catch {
      this.#scheduleReconnect();
      return null;
    }
    const lost = (): void => {
      client.removeAllListeners('notification');
      if (this.#closed) return;
      // Waiters poll until the connection is back; wake them so they look now.
      this.#ring();
      this.#scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.#channel) this.#ring();
    });
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return null;
    }
    return client;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnect) return;
    this.#client = undefined;
    this.#listeningOn = undefined;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      if (this.#wantListen) void this.#ready();
    }, this.#timing.reconnectDelayMs);
    this.#reconnect.unref();
  }

  #stop(): void {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearTimeout(this.#timer);
    this.#ring();
  }

  /** Cuts the listening connection without a goodbye (a crash, for tests). */
  abandon(): void {
    this.#stop();
    void this.#client?.then((client) => (client as unknown as { connection?: { stream?: { destroy(): void } } } | null)?.connection?.stream?.destroy(), () => undefined);
    this.#client = undefined;
  }

  async close(): Promise<void> {
    this.#stop();
    const client = await this.#client?.catch(() => null);
    this.#client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}

/** The event store's waker: `appended()` after a commit; subscriptions wait on `signal`. */
export class AppendWaker extends Waker {
  appended(): void {
    this.committed();
  }
}
