/**
 * The store's connections: each runs as the store's ordinary role, for one tenant, in UTC, at READ
 * COMMITTED — what the store's statements were designed for, whatever the server's or the URL's
 * default isolation (under REPEATABLE READ, concurrent appends to one stream would fail). A pool
 * the store makes sets this at connection start-up, so no statement on it — not even raw SQL —
 * runs otherwise; a pool brought by the user gets it on first use by the store.
 */
import pg from 'pg';
import type { StoreNames } from './names.js';
import { TENANT_SETTING } from './sql/tables.js';

/** The isolation the store's own transactions were designed for. */
export const ISOLATION = 'read committed';

export interface SessionSettings {
  readonly role: string;
  readonly tenantId: string;
}

/** `-c name=value` start-up options; spaces and backslashes in values are escaped as the server expects. */
export function startupOptions({ role, tenantId }: SessionSettings): string {
  const escape = (value: string): string => value.replace(/[\\\s]/g, (c) => `\\${c}`);
  return [`role=${role}`, `${TENANT_SETTING}=${tenantId}`, 'TimeZone=UTC', `default_transaction_isolation=${ISOLATION}`]
    .map((o) => `-c ${escape(o)}`)
    .join(' ');
}

/**
 * Keeps the user's own start-up options from the URL and puts ours after them, so ours win. The
 * URL loses its `options`: node-postgres would let it override the combined ones.
 */
function connectionConfig(connectionString: string, settings: SessionSettings): pg.ClientConfig {
  const url = new URL(connectionString);
  const existing = url.searchParams.get('options');
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options: [existing, startupOptions(settings)].filter(Boolean).join(' ') };
}

export function createPool(connectionString: string, size: number, settings: SessionSettings): pg.Pool {
  const pool = new pg.Pool({
    ...connectionConfig(connectionString, settings),
    max: size,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection that breaks is dropped by the pool; without a listener it would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** A plain connection as the user who connects (migrations run as the schema's owner). */
export async function connectPlain(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** A connection of its own for the store (LISTEN), set up like the pool's. */
export async function connectAs(connectionString: string, settings: SessionSettings): Promise<pg.Client> {
  const client = new pg.Client(connectionConfig(connectionString, settings));
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** A connection of its own with the settings of a pool the user brought. */
export async function connectLike(pool: pg.Pool, initializer: SessionInitializer): Promise<pg.Client> {
  const client = new pg.Client((pool as unknown as { options: pg.ClientConfig }).options);
  client.on('error', () => undefined);
  await client.connect();
  await initializer.prepare(client);
  return client;
}

/** Sets role, tenant and time zone on connections of a pool the store did not make. */
export class SessionInitializer {
  readonly #ready = new WeakSet<pg.ClientBase>();
  readonly #settings: SessionSettings;

  constructor(settings: SessionSettings) {
    this.#settings = settings;
  }

  async prepare(client: pg.ClientBase): Promise<void> {
    if (this.#ready.has(client)) return;
    await client.query(
      `SELECT set_config('role', $1, false), set_config('${TENANT_SETTING}', $2, false), set_config('TimeZone', 'UTC', false),
              set_config('default_transaction_isolation', '${ISOLATION}', false)`,
      [this.#settings.role, this.#settings.tenantId],
    );
    this.#ready.add(client);
  }
}

export function sessionSettings(names: StoreNames, tenantId: string): SessionSettings {
  return { role: names.role, tenantId };
}
