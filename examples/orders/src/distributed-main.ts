/**
 * `npm run -w @eventloom/example-orders distributed`: the reference system with each service in its
 * own process over PostgreSQL (EVENTLOOM_POSTGRES_URL), one of them killed mid-run and restarted
 * (EVENTLOOM_KILL=payment by default, `none` for no kill); EVENTLOOM_ORDERS sets the load (default
 * 200). Uses a fresh schema and drops it afterwards (EVENTLOOM_KEEP_SCHEMA=1 keeps it).
 */
import { dropPostgresEventStore } from '@eventloom/postgres';
import { formatSummary } from './system/index.js';
import { runDistributed } from './system/distributed.js';
import type { ChoreographyPart } from './system/choreographed.js';

const connectionString = process.env.EVENTLOOM_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const schema = `orders_${Date.now().toString(36)}`;
const orders = Number(process.env.EVENTLOOM_ORDERS ?? 200);
const kill = (process.env.EVENTLOOM_KILL ?? 'payment') as ChoreographyPart | 'none';
console.log(`Eventloom reference order system: ${orders} orders, distributed (a process per service, PostgreSQL schema ${schema})${kill === 'none' ? '' : `, ${kill} killed mid-run`}`);
try {
  const result = await runDistributed({ connectionString, schema, orders, ...(kill === 'none' ? {} : { kill }), progress: process.env.EVENTLOOM_PROGRESS !== '0' });
  for (const line of formatSummary(result, `PostgreSQL schema ${schema}`)) console.log(line);
  if (result.killed) console.log(`  (service ${result.killed} was killed with SIGKILL mid-run and restarted)`);
  process.exitCode = result.ok ? 0 : 1;
} finally {
  if (process.env.EVENTLOOM_KEEP_SCHEMA !== '1') await dropPostgresEventStore({ connectionString, schema });
}
