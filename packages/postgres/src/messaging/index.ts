/** The PostgreSQL durable queue transport. */
export { openPostgresTransport, PostgresTransport, type PostgresTransportOptions } from './transport.js';
export { openPostgresTransportDriver, PostgresTransportDriver, type PostgresTransportOptions as PostgresTransportDriverOptions } from './postgres-transport.js';
