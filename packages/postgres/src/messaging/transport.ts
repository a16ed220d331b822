/** `PostgresTransport`: core's consumer engine over the PostgreSQL queue driver. */
import type { TransportOptions } from '@eventloom/core';
import { DrivenTransport, splitTransportOptions } from '@eventloom/core/adapter';
import type pg from 'pg';
import { openPostgresTransportDriver, type PostgresTransportDriver, type PostgresTransportOptions as DriverOptions } from './postgres-transport.js';

export interface PostgresTransportOptions extends DriverOptions, TransportOptions {}

/**
 * Opens the PostgreSQL transport: durable queues and topics in the event store's schema,
 * tenant-scoped by row-level security. From a URL it migrates the schema first (as
 * `openPostgresEventStore` does); from a store it shares the store's pool, schema and tenant.
 *
 * @example
 * const transport = await openPostgresTransport({ connectionString: process.env.DATABASE_URL, schema: 'app', source: 'billing' });
 * await transport.send('billing.charge-card', { type: 'ChargeCard', data: { orderId: 'o-1' } });
 */
export async function openPostgresTransport(options: PostgresTransportOptions): Promise<PostgresTransport> {
  const { engine, adapter } = splitTransportOptions(options, "{ connectionString, schema } or { store }");
  return new PostgresTransport(await openPostgresTransportDriver(adapter), engine);
}

export class PostgresTransport extends DrivenTransport<PostgresTransportDriver> {
  /** Use `openPostgresTransport`. */
  constructor(driver: PostgresTransportDriver, options: TransportOptions) {
    super(driver, options);
  }

  /** The connections the queues use (the store's, when opened from one). */
  get pool(): pg.Pool {
    return this.driver.pool;
  }

  /**
   * Stops at once as a killed process would: nothing claimed is released (it comes back when its
   * lease runs out) and the connections are cut. For crash tests.
   * @internal
   */
  abandon(): Promise<void> {
    return this.driver.abandon();
  }
}
