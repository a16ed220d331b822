/** The PostgreSQL durable queue transport. */
export { openPostgresTransportDriver, PostgresTransportDriver, type PostgresTransportOptions } from './postgres-transport.js';
