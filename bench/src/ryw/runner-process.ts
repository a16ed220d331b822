/**
 * W8's process B: runs the projection with a ProjectionRunner on the target's store until stdin
 * closes. Prints `ready` once the runner has started.
 *
 *   node --import tsx bench/src/ryw/runner-process.ts '<resource JSON>'
 */
import { ProjectionRunner, type EventStore, type ReadModelStore } from '@eventloom/core';
import { openPostgresEventStore, openPostgresReadModels } from '@eventloom/postgres';
import { openSqliteEventStore, openSqliteReadModels } from '@eventloom/sqlite';
import pg from 'pg';
import type { TargetResource } from '../target.js';
import { rywProjection } from './projection.js';

const resource = JSON.parse(process.argv[2]!) as TargetResource;
let eventStore: EventStore;
let readModels: ReadModelStore;
let pool: pg.Pool | undefined;
if (resource.backend === 'postgres') {
  eventStore = await openPostgresEventStore({ connectionString: resource.connectionString, schema: resource.schema, poolSize: 4 });
  pool = new pg.Pool({ connectionString: resource.connectionString, max: 4 });
  readModels = await openPostgresReadModels({ pool, schema: resource.schema });
} else {
  const store = openSqliteEventStore({ filename: resource.filename, durability: 'full' });
  eventStore = store;
  readModels = openSqliteReadModels({ database: store.database });
}
/**
 * The runner at its defaults, as users run it: woken by appends through the event store's own
 * wake-ups, polling every 100 ms otherwise. `EVENTLOOM_BENCH_RUNNER_POLL_MS` sets its poll instead.
 */
const poll = process.env['EVENTLOOM_BENCH_RUNNER_POLL_MS'];
const runner = new ProjectionRunner({ eventStore, readModels, projections: [rywProjection], ...(poll !== undefined && { pollIntervalMs: Number(poll) }) });
await runner.start();
process.stdout.write('ready\n');

const stop = async (): Promise<void> => {
  await runner.stop();
  await readModels.close();
  await eventStore.close();
  await pool?.end();
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.resume();
process.on('SIGTERM', () => void stop());
