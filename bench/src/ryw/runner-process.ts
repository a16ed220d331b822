/**
 * W8's process B: runs the projection with a ProjectionRunner on the target's store until stdin
 * closes. Prints `ready` once the runner has started.
 *
 *   node --conditions=eventloom-source --import tsx bench/src/ryw/runner-process.ts '<resource JSON>'
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
 * The runner looks for new events every `RUNNER_POLL_MS` when idle: nothing wakes it when another
 * process appends (the store's waitForPosition is woken; the runner's read of the log is polled).
 */
const RUNNER_POLL_MS = Number(process.env['EVENTLOOM_BENCH_RUNNER_POLL_MS'] ?? 10);
const runner = new ProjectionRunner({ eventStore, readModels, projections: [rywProjection], pollIntervalMs: RUNNER_POLL_MS });
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
