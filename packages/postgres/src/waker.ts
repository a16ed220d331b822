/**
 * Wakes live subscriptions when events are appended. In this process the append itself rings the
 * signal; other processes hear a NOTIFY on the tenant's channel, through one dedicated connection
 * that LISTENs once this process subscribes.
 *
 * The channel's name is a random secret kept in `tenant_channels`, which row-level security shows
 * only to the tenant's own sessions, and the payload is empty: another tenant, or any session of
 * the database, learns nothing about this tenant's appends (LISTEN needs no privilege, so the
 * name is the only guard). A wake-up means "look": whatever it announces has committed, and
 * readers of the log see every committed event (positions commit in order, see `log-heads.ts`).
 *
 * The NOTIFY is sent after the append commits, on that connection, at most once per
 * `NOTIFY_INTERVAL_MS` (the last append of a burst is always announced). Inside the append's
 * transaction it would take PostgreSQL's global notify lock through the commit's flush to disk
 * and serialize every concurrent append; one per append would cost each sequential append
 * another round trip. Another process's subscriber is so woken within about this interval.
 */
import { AppendSignal } from '@eventloom/core/adapter';
import type pg from 'pg';
import { quoteIdent } from './names.js';

export const NOTIFY_INTERVAL_MS = 10;
const RECONNECT_DELAY_MS = 1_000;

export class AppendWaker {
  readonly signal = new AppendSignal();
  readonly #connect: () => Promise<pg.Client>;
  readonly #channel: string;
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

  constructor(connect: () => Promise<pg.Client>, channel: string) {
    this.#connect = connect;
    this.#channel = channel;
  }

  /** Starts listening (once); subscriptions call it so that other processes' appends wake them. */
  listen(): void {
    this.#wantListen = true;
    void this.#ready();
  }

  /** An append committed here: wake local subscribers now, other processes by NOTIFY soon. */
  appended(): void {
    this.signal.notify();
    this.#announceSoon();
  }

  #announceSoon(): void {
    if (this.#closed) return;
    this.#pending = true;
    if (this.#timer || this.#sending) return;
    const wait = this.#lastSent + NOTIFY_INTERVAL_MS - Date.now();
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
      if (client && !this.#closed) {
        await client.query('SELECT pg_notify($1, NULL)', [this.#channel]);
      }
    } catch {
      // A lost connection is replaced; subscribers elsewhere poll meanwhile.
    } finally {
      this.#sending = false;
    }
    if (this.#pending) this.#announceSoon();
  }

  /** The dedicated connection, opened on first use, listening once a subscription asked for it. */
  async #ready(): Promise<pg.Client | null> {
    const client = await (this.#client ??= this.#open());
    if (client && this.#wantListen && this.#listeningOn !== client && !this.#closed) {
      this.#listeningOn = client;
      try {
        await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
        // Appends that committed before LISTEN took effect sent their NOTIFY to no one: look now.
        this.signal.notify();
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
      // Subscribers poll until the connection is back; wake them so they look now.
      this.signal.notify();
      this.#scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.#channel) this.signal.notify();
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
    }, RECONNECT_DELAY_MS);
    this.#reconnect.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearTimeout(this.#timer);
    this.signal.notify();
    const client = await this.#client?.catch(() => null);
    this.#client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
