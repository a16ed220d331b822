/**
 * Quick local timings beside raw better-sqlite3 doing the same inserts with the same durability.
 * Not a test and not the benchmark (bench/ has that): a check while developing. Raw and store
 * runs alternate, and the best of the rounds counts, so load from other processes evens out.
 * Run: node --conditions=eventloom-source --import tsx packages/sqlite/test/timing.ts [full|normal|off] [immediate|microtask] [rounds]
 */
import Database from 'better-sqlite3';
import { uuidv7, type Event } from '@eventloom/core';
import { openSqliteEventStore, type Durability } from '../src/index.js';
import type { FlushSchedule } from '../src/group-commit.js';
import { tempFile } from './temp-file.js';

const durability = (process.argv[2] ?? 'full') as Durability;
const flushSchedule = (process.argv[3] ?? 'immediate') as FlushSchedule;
const rounds = Number(process.argv[4] ?? 5);
const SYNC = { full: 'FULL', normal: 'NORMAL', off: 'OFF' }[durability];

type Counted = Event<'Counted', { n: number; text: string }>;

/** Events per second of `work`, which handles `count` events. */
async function rate(count: number, work: () => Promise<void> | void): Promise<number> {
  const start = performance.now();
  await work();
  return (count / (performance.now() - start)) * 1000;
}

function rawDatabase(filename: string): Database.Database {
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${SYNC}`);
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, time TEXT NOT NULL,
    UNIQUE (stream_id, stream_version))`);
  return db;
}

const data = (n: number) => ({ n, text: 'some payload here' });

async function main(): Promise<void> {
  console.log(`durability=${durability} flush=${flushSchedule} rounds=${rounds}`);
  const rawFile = tempFile();
  const raw = rawDatabase(rawFile.filename);
  const insert = raw.prepare('INSERT INTO events (id, stream_id, stream_version, type, data, metadata, time) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const rawVersions = new Map<string, number>();
  const appendRaw = raw.transaction((streamId: string, count: number) => {
    const time = new Date().toISOString();
    let version = rawVersions.get(streamId) ?? 0;
    for (let i = 0; i < count; i++) insert.run(uuidv7(), streamId, ++version, 'Counted', JSON.stringify(data(i)), '{}', time);
    rawVersions.set(streamId, version);
  });
  const rawStream = raw.prepare('SELECT * FROM events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT 500');
  const rawLog = raw.prepare('SELECT * FROM events WHERE position >= ? ORDER BY position LIMIT 500');
  type RawRow = { position: number; stream_version: number; data: string; metadata: string };

  const file = tempFile();
  const store = openSqliteEventStore({ filename: file.filename, durability, flushSchedule });
  const one = [{ type: 'Counted', data: data(1) }];
  const hundred = Array.from({ length: 100 }, (_, n) => ({ type: 'Counted', data: data(n) }));
  const thousand = Array.from({ length: 1000 }, (_, n) => ({ type: 'Counted', data: data(n) }));
  for (let i = 0; i < 100; i++) {
    appendRaw('long-1', 100);
    await store.appendToStream('long-1', hundred);
  }
  for (let i = 0; i < 90; i++) {
    appendRaw(`log-${i}`, 1000);
    await store.appendToStream(`log-${i}`, thousand);
  }

  const cases: { name: string; raw: () => Promise<number>; store: () => Promise<number> }[] = [
    {
      name: 'single-event appends, sequential',
      raw: () => rate(1000, () => {
        for (let i = 0; i < 1000; i++) appendRaw(`seq-${i % 10}`, 1);
      }),
      store: () => rate(1000, async () => {
        for (let i = 0; i < 1000; i++) await store.appendToStream(`seq-${i % 10}`, one);
      }),
    },
    {
      name: 'batches of 100 (events/s)',
      raw: () => rate(5000, () => {
        for (let i = 0; i < 50; i++) appendRaw('batch-1', 100);
      }),
      store: () => rate(5000, async () => {
        for (let i = 0; i < 50; i++) await store.appendToStream('batch-1', hundred);
      }),
    },
    {
      name: '16 writers (store) vs one txn per append (raw)',
      raw: () => rate(1000, () => {
        for (let i = 0; i < 1000; i++) appendRaw(`conc-${i % 16}`, 1);
      }),
      store: () => rate(16 * 100, async () => {
        await Promise.all(
          Array.from({ length: 16 }, async (_, w) => {
            for (let i = 0; i < 100; i++) await store.appendToStream(`conc-${w}`, one);
          }),
        );
      }),
    },
    {
      name: '16 writers, each append in its own macrotask',
      raw: () => rate(1000, () => {
        for (let i = 0; i < 1000; i++) appendRaw(`conc-${i % 16}`, 1);
      }),
      // Like requests arriving over sockets: every append starts in a separate I/O callback.
      store: () => rate(16 * 100, async () => {
        await Promise.all(
          Array.from({ length: 16 }, async (_, w) => {
            for (let i = 0; i < 100; i++) {
              await new Promise((resolve) => setImmediate(resolve));
              await store.appendToStream(`conc-${w}`, one);
            }
          }),
        );
      }),
    },
    {
      name: 'read + fold a 10,000-event stream',
      raw: () => rate(10_000, () => {
        let sum = 0;
        for (let from = 1; ; ) {
          const rows = rawStream.all('long-1', from) as RawRow[];
          for (const row of rows) sum += (JSON.parse(row.data) as { n: number }).n;
          if (rows.length < 500) break;
          from = rows.at(-1)!.stream_version + 1;
        }
        if (sum !== 4950 * 100) throw new Error(`sum ${sum}`);
      }),
      store: () => rate(10_000, async () => {
        let sum = 0;
        for await (const event of store.readStream<Counted>('long-1')) sum += event.data.n;
        if (sum !== 4950 * 100) throw new Error(`sum ${sum}`);
      }),
    },
    {
      name: 'read the whole log',
      raw: async () => {
        const total = (raw.prepare('SELECT count(*) FROM events').pluck().get() as number);
        return rate(total, () => {
          for (let from = 1; ; ) {
            const rows = rawLog.all(from) as RawRow[];
            for (const row of rows) {
              JSON.parse(row.data);
              JSON.parse(row.metadata);
            }
            if (rows.length < 500) break;
            from = rows.at(-1)!.position + 1;
          }
        });
      },
      store: async () => {
        const total = Number(await store.headPosition());
        return rate(total, async () => {
          let count = 0;
          for await (const event of store.readAll()) if (event) count++;
          if (count !== total) throw new Error(`read ${count} of ${total}`);
        });
      },
    },
    {
      name: 'readCategory of 90,000 (store only)',
      raw: async () => Number.NaN,
      store: () => rate(90_000, async () => {
        let count = 0;
        for await (const event of store.readCategory('log')) if (event) count++;
        if (count !== 90_000) throw new Error(`read ${count}`);
      }),
    },
  ];

  for (const c of cases) {
    let bestRaw = 0;
    let bestStore = 0;
    for (let round = 0; round < rounds; round++) {
      bestRaw = Math.max(bestRaw, await c.raw());
      bestStore = Math.max(bestStore, await c.store());
    }
    const fmt = (n: number) => Math.round(n).toLocaleString('en').padStart(9);
    console.log(`${c.name.padEnd(48)} raw ${fmt(bestRaw)}/s  store ${fmt(bestStore)}/s  ratio ${(bestStore / bestRaw).toFixed(2)}`);
  }
  const rawEvents = raw.prepare('SELECT count(*) FROM events').pluck().get() as number;
  console.log(`log sizes at the end: raw ${rawEvents.toLocaleString('en')}, store ${(await store.headPosition()).toLocaleString('en')} events`);
  const stats = store.groupCommitStats;
  console.log(`group commit: ${stats.commits} commits for ${stats.appends} appends, largest group ${stats.largestGroup}`);
  await store.close();
  raw.close();
  file.remove();
  rawFile.remove();
}

await main();
