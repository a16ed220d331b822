/**
 * In-process A/B of reads with and without `fields`: CPU µs per event (this process's user + system
 * time, so the figures hold on a loaded machine), each variant run alternately in rounds and the
 * median taken. W6's read of the log (`position, data` against whole events) and W5's
 * read of one stream (`type, data, metadata, streamVersion`, what loadState asks for, against
 * whole events); every event's data is touched, as the bench's fold does.
 *
 *   node --import tsx src/reads-ab.ts [--only sqlite|postgres] [--events N] [--rounds N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventField, EventStore } from '@eventloom/core';
import { openPostgresEventStore } from '@eventloom/postgres';
import { openSqliteEventStore } from '@eventloom/sqlite';
import { orderBatch } from './payload.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const only = option('only');
const events = Number(option('events') ?? 50_000);
const rounds = Number(option('rounds') ?? 7);
const W6: EventField[] = ['position', 'data'];
const W5: EventField[] = ['type', 'data', 'metadata', 'streamVersion'];

async function fill(store: EventStore): Promise<string> {
  const stream = 'order-ab';
  for (let i = 0; i < events; i += 100) await store.appendToStream(stream, orderBatch(i, 100));
  return stream;
}

/** CPU µs per event of one read, touching each event's data. */
async function cpuPerEvent(read: () => AsyncIterable<{ readonly data?: unknown }>): Promise<number> {
  let count = 0;
  let touched = 0;
  const start = process.cpuUsage();
  for await (const event of read()) {
    count++;
    touched += (event.data as { total: number }).total;
  }
  const used = process.cpuUsage(start);
  if (count !== events || Number.isNaN(touched)) throw new Error(`read ${count} of ${events}`);
  return (used.user + used.system) / count;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function compare(name: string, store: EventStore): Promise<void> {
  const stream = await fill(store);
  const variants: Record<string, () => AsyncIterable<{ readonly data?: unknown }>> = {
    'W6 readAll whole': () => store.readAll(),
    'W6 readAll fields': () => store.readAll({ fields: W6 }),
    'W5 readStream whole': () => store.readStream(stream),
    'W5 readStream fields': () => store.readStream(stream, { fields: W5 }),
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const read of Object.values(variants)) await cpuPerEvent(read); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [key, read] of Object.entries(variants)) samples[key]!.push(await cpuPerEvent(read));
  }
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  console.log(`${name}: ${events} events, ${rounds} rounds, CPU µs per event (median; range)`);
  for (const [key, values] of Object.entries(samples)) {
    console.log(`  ${key.padEnd(22)} ${m[key]!.toFixed(3)}  (${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)})`);
  }
  console.log(`  W6 fields/whole ${(m['W6 readAll fields']! / m['W6 readAll whole']!).toFixed(2)}x, W5 fields/whole ${(m['W5 readStream fields']! / m['W5 readStream whole']!).toFixed(2)}x`);
}

if (only === undefined || only === 'sqlite') {
  const dir = mkdtempSync(join(tmpdir(), 'reads-ab-'));
  const store = openSqliteEventStore({ filename: join(dir, 'ab.db') });
  try {
    await compare('SQLite', store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
if (only === undefined || only === 'postgres') {
  const connectionString = process.env.EVENTLOOM_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `reads_ab_${process.pid}`;
  const store = await openPostgresEventStore({ connectionString, schema });
  try {
    await compare('PostgreSQL', store);
  } finally {
    await store.close();
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString });
    await client.connect();
    await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    await client.end();
  }
}
