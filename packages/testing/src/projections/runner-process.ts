/**
 * A projection runner in its own process, for the multi-process projection suite. Arguments: the
 * adapter's module (exporting `openStores(env)`, see `ProjectionProcessStores`), its env as JSON,
 * then <owner> <batchSize> <leaseTtlMs> [stallAtPosition|-] [slowMs].
 * It runs the ledger projection, and records in the `applied` collection which process applied
 * each event. With a stall position it prints `stalled <position>` in the middle of the batch
 * holding that event and then waits, inside the open transaction, until it is killed. It prints
 * `leading`/`standby` as the lease goes, and stops cleanly (exit code 0) on SIGTERM.
 */
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { defineProjection, ProjectionRunner, type ProjectionHandle } from '@eventloom/core';
import { ledgerProjection, type OrderEvent } from './fixtures.js';
import type { ProjectionProcessStores } from './processes.js';

const [module, env, owner, batchSize, leaseTtlMs, stallAt, slowMs] = process.argv.slice(2);
if (!module || !env || !owner || !batchSize || !leaseTtlMs) {
  throw new Error('usage: runner-process <module> <env json> <owner> <batchSize> <leaseTtlMs> [stallAt|-] [slowMs]');
}
const specifier = module.startsWith('/') ? pathToFileURL(module).href : module;
const { openStores } = (await import(specifier)) as { openStores(env: Record<string, string>): Promise<ProjectionProcessStores> };
const stallPosition = stallAt === undefined || stallAt === '-' ? undefined : BigInt(stallAt);
const slow = Number(slowMs ?? 0);
// Blocks the thread, as a CPU-bound handler would: timers (lease renewals) cannot run meanwhile.
const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const say = (line: string): void => void writeSync(1, `${line}\n`);
const ledger = ledgerProjection({ name: 'crash-ledger' });

const projection = defineProjection<OrderEvent>({
  name: 'crash-ledger',
  version: 1,
  handlers: Object.fromEntries(
    ledger.eventTypes.map((type) => [
      type,
      async (event: Parameters<typeof ledger.apply>[0], read: ProjectionHandle) => {
        if (stallPosition !== undefined && event.position === stallPosition) {
          say(`stalled ${event.position}`);
          // Holds the transaction open, as a long handler would, until the test kills us.
          await new Promise(() => undefined);
        }
        if (slow > 0) pause(slow);
        await ledger.apply(event, read);
        await read.collection<{ owner: string; position: string }>('applied').upsert(event.position.toString(), { owner, position: event.position.toString() });
      },
    ]),
  ),
});

const stores = await openStores(JSON.parse(env) as Record<string, string>);
const runner = new ProjectionRunner({
  eventStore: stores.eventStore,
  readModels: stores.readModels,
  projections: [projection],
  owner,
  batchSize: Number(batchSize),
  leaseTtlMs: Number(leaseTtlMs),
  pollIntervalMs: 20,
  onEvent: (event) => {
    if (event.type === 'leading' || event.type === 'standby') say(event.type);
    if (event.type === 'error') say(`error ${String(event.error)}`);
  },
});

process.on('SIGTERM', () => {
  void runner
    .stop()
    .then(() => stores.close())
    .then(() => process.exit(0));
});
await runner.start();
say('started');
