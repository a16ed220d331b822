/**
 * `npm start`: the reference order system under load on one SQLite file, then its summary and
 * invariants (exit 1 if one fails). EVENTLOOM_DB keeps a file across runs (a run continues where
 * the last one stopped); EVENTLOOM_ORDERS sets the load (default 500); EVENTLOOM_VARIANT
 * `orchestrated` (default) or `choreographed`.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatSummary, runSystem, type Variant } from './system/index.js';

const filename = resolve(process.env.EVENTLOOM_DB ?? '.eventloom/orders.sqlite');
mkdirSync(dirname(filename), { recursive: true });
if (!process.env.EVENTLOOM_DB) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(filename + suffix, { force: true });
}
const orders = Number(process.env.EVENTLOOM_ORDERS ?? 500);
const variant = (process.env.EVENTLOOM_VARIANT ?? 'orchestrated') as Variant;
console.log(`Eventloom reference order system: ${orders} orders, ${variant}, embedded (one SQLite file)`);
const result = await runSystem({ filename, orders, variant, progress: process.env.EVENTLOOM_PROGRESS !== '0' });
for (const line of formatSummary(result, filename)) console.log(line);
if (!result.ok) process.exit(1);
