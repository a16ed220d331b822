/**
 * One service of the distributed mode in its own process:
 *   node --conditions=eventloom-source --import tsx src/service-process.ts <part> <schema> <orders>
 * It runs its part of the choreography on the PostgreSQL store until SIGTERM (a graceful stop:
 * checkpoints stored, leases handed back) — or SIGKILL, after which a restarted one takes over
 * when the dead one's lease runs out.
 */
import { openPostgresEventStore } from '@eventloom/postgres';
import { orderSchemas } from './order/index.js';
import { catalogue, createServices, plannedOrders, startChoreography, type ChoreographyPart } from './system/index.js';

const [part, schema, count] = process.argv.slice(2) as [ChoreographyPart, string, string];
const connectionString = process.env.EVENTLOOM_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const orders = Number(count);
const planned = new Map(plannedOrders(orders).map((o) => [o.orderId, o]));
const store = await openPostgresEventStore({ connectionString, schema, schemas: orderSchemas(), source: `${part}-service`, poolSize: 3 });
const choreography = startChoreography(store, createServices(store, catalogue(orders)), (id) => planned.get(id)!, [part], { leaseMs: 3_000 });
process.stdout.write(`ready ${part}\n`);
const stop = async () => {
  await choreography.stop();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
