/**
 * The read-model store's own connections: made like the user's pool's, but each starts as the
 * schema's ordinary role, for the store's tenant, in UTC, at READ COMMITTED (start-up options,
 * so no statement needs a round trip to set them first). Setting role and tenant per transaction
 * cost every statement two more round trips (a lease renewal 271 → 1,080 µs).
 */
import type pg from 'pg';
import { startupOptions, type SessionSettings } from '../session.js';

/** The user's pool's configuration with our start-up options after its own, so ours win. */
export function scopedPoolConfig(pool: pg.Pool, settings: SessionSettings): pg.PoolConfig {
  const base = { ...(pool.options as pg.PoolConfig) };
  let existing = base.options;
  if (typeof base.connectionString === 'string') {
    // node-postgres lets the URL's own `options` override the combined ones: move them over.
    const url = new URL(base.connectionString);
    existing = [url.searchParams.get('options'), existing].filter(Boolean).join(' ') || undefined;
    url.searchParams.delete('options');
    base.connectionString = url.toString();
  }
  return { ...base, max: base.max ?? 10, options: [existing, startupOptions(settings)].filter(Boolean).join(' ') };
}
