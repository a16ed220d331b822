/** Eventloom's SQLite store at its default durability, stated explicitly: WAL, synchronous=FULL. */
import { openSqliteEventStore } from '@eventloom/sqlite';
import type { BenchTarget, TargetResource } from '../target.js';
import { eventloomTarget } from './eventloom-store.js';

export async function open(resource: TargetResource): Promise<BenchTarget> {
  if (resource.backend !== 'sqlite') throw new Error('eventloom-sqlite needs a SQLite resource');
  const store = openSqliteEventStore({ filename: resource.filename, durability: 'full' });
  const count = store.database.prepare<[], { n: number }>('SELECT count(*) AS n FROM events');
  return eventloomTarget(store, async () => count.get()!.n);
}
