/**
 * One service of the distributed mode in its own process:
 *   node --conditions=eventloom-source --import tsx src/service-process.ts <part> <schema> <orders>
 * with the bus in EVENTLOOM_BUS / EVENTLOOM_BUS_URL / EVENTLOOM_BUS_RUN (set by the parent). It
 * runs its part of the choreography — state in the PostgreSQL store, messages on the bus — until
 * SIGTERM (a graceful stop: in-flight messages finished, relay checkpoints stored) or SIGKILL,
 * after which a restarted one gets the unacknowledged messages again and takes the relay over
 * when the dead one's lease runs out.
 */
import { openPostgresEventStore, openPostgresInbox } from '@eventloom/postgres';
import pg from 'pg';
import { orderSchemas } from './order/index.js';
import { busFromChildEnv, openBus } from './system/bus/open-bus.js';
import { startServiceOnBus } from './system/bus/service-on-bus.js';
import { catalogue, createServices, plannedOrders, type ChoreographyPart } from './system/index.js';

const [part, schema, count] = process.argv.slice(2) as [ChoreographyPart, string, string];
const connectionString = process.env.EVENTLOOM_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const orders = Number(count);
const planned = new Map(plannedOrders(orders).map((o) => [o.orderId, o]));
const bus = busFromChildEnv();
const store = await openPostgresEventStore({ connectionString, schema, schemas: orderSchemas(), source: `${part}-service`, poolSize: 4 });
const transport = await openBus(bus, store, `${part}-service`);
// The inbox and the gateway's ledger on a pool of their own, as the schema's owner.
const pool = new pg.Pool({ connectionString, max: 10 });
const inbox = await openPostgresInbox({ pool, schema });
const service = startServiceOnBus({
  part,
  bus,
  store,
  transport,
  inbox,
  services: createServices(store, catalogue(orders)),
  lookup: (id) => planned.get(id)!,
  onEvent: (event) => {
    if (event.type === 'dead-lettered') console.error(`${part}: dead-lettered ${event.deadLetter.message?.type ?? "(undecodable)"} ${event.deadLetter.message?.id ?? event.deadLetter.id}: ${event.deadLetter.error}`);
  },
});
await service.ready;
process.stdout.write(`ready ${part}\n`);
const stop = async () => {
  await service.stop();
  await transport.close();
  await inbox.close();
  await pool.end();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
