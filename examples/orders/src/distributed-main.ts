/**
 * `npm run -w @eventloom/example-orders distributed`: the reference system with each service in its
 * own process, PostgreSQL for state (EVENTLOOM_POSTGRES_URL) and a broker between the services:
 * EVENTLOOM_BUS=nats (default; EVENTLOOM_NATS_URL), rabbitmq (EVENTLOOM_RABBITMQ_URL) or postgres.
 * One service is killed with SIGKILL mid-run and restarted (EVENTLOOM_KILL=payment by default,
 * `none` for no kill); EVENTLOOM_ORDERS sets the load (default 200). Uses a fresh schema and a
 * fresh set of queues, and deletes both afterwards (EVENTLOOM_KEEP_SCHEMA=1 keeps the schema).
 */
import { dropPostgresEventStore } from '@eventloom/postgres';
import { formatSummary } from './system/index.js';
import { busFromEnv } from './system/bus/open-bus.js';
import { runDistributed } from './system/distributed.js';
import type { ChoreographyPart } from './system/choreographed.js';

const connectionString = process.env.EVENTLOOM_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const runId = `orders-${Date.now().toString(36)}`;
const schema = runId.replace('-', '_');
const bus = busFromEnv(runId);
const orders = Number(process.env.EVENTLOOM_ORDERS ?? 200);
const kill = (process.env.EVENTLOOM_KILL ?? 'payment') as ChoreographyPart | 'none';
console.log(`Eventloom reference order system: ${orders} orders, distributed (a process per service, ${bus.kind} between them, PostgreSQL schema ${schema})${kill === 'none' ? '' : `, ${kill} killed mid-run`}`);
try {
  const result = await runDistributed({ connectionString, schema, orders, bus, ...(kill === 'none' ? {} : { kill }), progress: process.env.EVENTLOOM_PROGRESS !== '0' });
  for (const line of formatSummary(result, `PostgreSQL schema ${schema}, ${bus.kind} bus`)) console.log(line);
  if (result.killed) console.log(`  (service ${result.killed} was killed with SIGKILL mid-run and restarted)`);
  process.exitCode = result.ok ? 0 : 1;
} finally {
  if (process.env.EVENTLOOM_KEEP_SCHEMA !== '1') await dropPostgresEventStore({ connectionString, schema });
}
