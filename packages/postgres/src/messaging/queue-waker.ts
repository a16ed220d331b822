/**
 * Wakes this transport's receivers when messages may have become claimable: at once for sends of
 * this process, by NOTIFY for other processes' sends. One dedicated connection per transport
 * LISTENs on the tenant's queue channel, named from the tenant's secret channel (`tenant_channels`,
 * visible only to the tenant's sessions) with an empty payload, as the event store's wake-ups are
 * (see `../waker.ts`): other tenants learn nothing.
 *
 * A receiver reads `generation` before it looks for messages and waits only if nothing rang since,
 * so a send that commits between its look and its wait is never missed. NOTIFY goes after the
 * send's commit, on the listening connection, at most once per `NOTIFY_INTERVAL_MS` (the last of
 * a burst always): inside the transaction it would take the server's global notify lock through
 * the commit's flush. Lost, the connection is opened again; receivers poll meanwhile.
 */
import type pg from 'pg';
import { quoteIdent } from '../names.js';

const NOTIFY_INTERVAL_MS = 5;
const RECONNECT_DELAY_MS = 500;

export class QueueWaker {
  #generation = 0;
  #waiters = new Set<() => void>();
  readonly #connect: () => Promise<pg.Client>;
  readonly #channel: string;
  #client: Promise<pg.Client | null> | undefined;
  #listening: pg.Client | undefined;
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

  get generation(): number {
    return this.#generation;
  }

  /** Starts listening (once); the first receiver calls it. */
  listen(): void {
    void this.#ready();
  }

  /** Resolves when rung after `generation`, after `timeoutMs`, or on abort. */
  wait(generation: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || generation !== this.#generation || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #ring(): void {
    this.#generation++;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Messages committed here: wake local receivers now, other processes' by NOTIFY soon. */
  sent(): void {
    this.#ring();
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
      if (client && !this.#closed) await client.query('SELECT pg_notify($1, NULL)', [this.#channel]);
    } catch {
      // The connection is replaced; receivers elsewhere poll meanwhile.
    } finally {
      this.#sending = false;
    }
    if (this.#pending) this.sent();
  }

  async #ready(): Promise<pg.Client | null> {
    const client = await (this.#client ??= this.#open());
    if (client && this.#listening !== client && !this.#closed) {
      this.#listening = client;
      try {
        await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
        // Sends that committed before LISTEN took effect notified no one: look now.
        this.#ring();
      } catch {
        this.#listening = undefined;
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
    this.#listening = undefined;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      void this.#ready();
    }, RECONNECT_DELAY_MS);
    this.#reconnect.unref();
  }

  /** Cuts the listening connection without a goodbye (a crash). */
  abandon(): void {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearTimeout(this.#timer);
    this.#ring();
    void this.#client?.then((client) => (client as unknown as { connection?: { stream?: { destroy(): void } } } | null)?.connection?.stream?.destroy(), () => undefined);
    this.#client = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearTimeout(this.#timer);
    this.#ring();
    const client = await this.#client?.catch(() => null);
    this.#client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
