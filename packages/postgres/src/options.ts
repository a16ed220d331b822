/** The options of `openPostgresEventStore`, and their checks. */
import { InvalidArgumentError, type SchemaRegistry } from '@eventloom/core';
import type pg from 'pg';
import { hasLoneSurrogate } from './names.js';

export interface PostgresEventStoreOptions {
  /** Where to connect, e.g. `postgres://app@db:5432/orders`. Give this or `pool`. */
  readonly connectionString?: string;
  /**
   * Bring your own pool instead. The store sets the role, tenant and time zone of each of its
   * connections, so give it a pool of its own; it is not ended by `close()`.
   */
  readonly pool?: pg.Pool;
  /** Size of the pool the store makes from `connectionString`. Default 10. */
  readonly poolSize?: number;
  /** Schema holding the store's tables and functions. Default `eventloom`. */
  readonly schema?: string;
  /** Whose events this store reads and writes; row-level security keeps tenants apart. Default `default`. */
  readonly tenantId?: string;
  /** Validates appended data and upcasts what is read. */
  readonly schemas?: SchemaRegistry;
  /** The `source` of recorded events. Default `eventloom`. */
  readonly source?: string;
  /** Where recorded times come from; tests pass a fake clock. */
  readonly clock?: () => Date;
}

export const DEFAULT_SCHEMA = 'eventloom';
export const DEFAULT_TENANT = 'default';
export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_SOURCE = 'eventloom';
const MAX_TENANT_ID_LENGTH = 255;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function normalizeTenantId(tenantId: string | undefined): string {
  if (tenantId === undefined) return DEFAULT_TENANT;
  if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > MAX_TENANT_ID_LENGTH) {
    throw new InvalidArgumentError('tenantId', `must be a string of 1 to ${MAX_TENANT_ID_LENGTH} characters`);
  }
  if (CONTROL.test(tenantId) || hasLoneSurrogate(tenantId)) {
    throw new InvalidArgumentError('tenantId', 'must not contain control characters or broken Unicode');
  }
  return tenantId;
}

export function normalizePoolSize(poolSize: number | undefined): number {
  if (poolSize === undefined) return DEFAULT_POOL_SIZE;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw new InvalidArgumentError('poolSize', `must be an integer from 1 to 1000, got ${poolSize}`);
  }
  return poolSize;
}

export function normalizeSource(source: string | undefined): string {
  if (source === undefined) return DEFAULT_SOURCE;
  if (typeof source !== 'string' || source.length === 0 || source.length > 255 || CONTROL.test(source) || hasLoneSurrogate(source)) {
    throw new InvalidArgumentError('source', 'must be a string of 1 to 255 characters without control characters');
  }
  return source;
}
