/**
 * Q-SQLITE: the SQLite transport beside raw better-sqlite3 doing the same work, in one run, on
 * files in the OS temp folder (real disk), WAL with synchronous=FULL for both.
 *
 * - throughput: N × 1 KB messages sent and consumed, every one handled and acknowledged on its
 *   own. Raw: a queue table of the same shape (destination, seq, id, visible_at, attempts,
 *   lease, envelope JSON, a ready index); inserts in transactions of 100, claims of 100 under a
 *   lease (UPDATE … RETURNING, its own transaction, as at-least-once needs), each envelope parsed,
 *   then one DELETE of the batch — 3 commits per 100 messages. Eventloom: one publisher sending
 *   sends of 100 one after another while a consumer (prefetch 256) handles each message; the
 *   engine batches acks, and claims, acks and sends arriving together share a commit. Figure:
 *   messages/s from the first send to the last handled message. Raw and Eventloom alternate,
 *   `--rounds` times; the best of each is compared.
 * - single sends: the same N sent one message per `send`, 64 in flight, consumed as above (what
 *   group commit is for).
 * - latency: one message every 2 ms (500 msgs/s) for `--latency-seconds`, send-to-handler p50/p99
 *   (same process; a second process is woken through data_version within ~5 ms more).
 *
 * Usage: npm run -w @eventloom/bench queue:sqlite [-- --messages 100000 --rounds 2 --latency-seconds 10]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Event } from '@eventloom/core';
import { openSqliteTransport, type SqliteTransport } from '@eventloom/sqlite';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MESSAGES = option('messages', 100_000);
const ROUNDS = option('rounds', 2);
const LATENCY_SECONDS = option('latency-seconds', 10);
const BATCH = 100;
const PREFETCH = 256;
const IN_FLIGHT = 64;
// ~1 KB of JSON with the envelope's fields around it.
const PAD = 'x'.repeat(860);

type Bench = Event<'Bench', { n: number; sentAt: number; pad: string }>;
const payload = (n: number): Bench['data'] => ({ n, sentAt: performance.timeOrigin + performance.now(), pad: PAD });

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function withFile<T>(work: (filename: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-bench-queue-'));
  return work(join(dir, 'queue.db')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

// ---------- raw better-sqlite3 ----------

async function rawThroughput(filename: string): Promise<number> {
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE q (seq INTEGER PRIMARY KEY, destination TEXT NOT NULL, id TEXT NOT NULL, visible_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, lease_until INTEGER NOT NULL DEFAULT 0, envelope TEXT NOT NULL);
    CREATE INDEX q_ready ON q (destination, max(visible_at, lease_until), seq);`);
  const insert = db.prepare('INSERT INTO q (destination, id, visible_at, envelope) VALUES (?, ?, ?, ?)');
  const claim = db.prepare(`UPDATE q SET attempts = attempts + 1, lease_until = @until WHERE seq IN (
      SELECT seq FROM q WHERE destination = 'jobs' AND max(visible_at, lease_until) <= @now ORDER BY max(visible_at, lease_until), seq LIMIT ${BATCH})
    RETURNING seq, envelope`);
  const remove = db.prepare('DELETE FROM q WHERE seq IN (SELECT value FROM json_each(?))');
  const insertBatch = db.transaction((rows: readonly [string, string][]) => {
    const now = Date.now();
    for (const [id, envelope] of rows) insert.run('jobs', id, now, envelope);
  });
  const claimBatch = db.transaction(() => {
    const now = Date.now();
    return claim.all({ now, until: now + 30_000 }) as { seq: number; envelope: string }[];
  });
  const removeBatch = db.transaction((seqs: readonly number[]) => remove.run(JSON.stringify(seqs)));
  let handled = 0;
  const started = performance.now();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    const rows: [string, string][] = [];
    for (let i = sent; i < Math.min(MESSAGES, sent + BATCH); i++) {
      const id = randomUUID();
      rows.push([id, JSON.stringify({ id, type: 'Bench', data: payload(i) })]);
    }
    insertBatch(rows);
    const claimed = claimBatch();
    for (const row of claimed) JSON.parse(row.envelope);
    removeBatch(claimed.map((row) => row.seq));
    handled += claimed.length;
    // Yield as a server would between requests.
    if (sent % 1_000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const rate = handled / ((performance.now() - started) / 1000);
  db.close();
  if (handled !== MESSAGES) throw new Error(`raw handled ${handled} of ${MESSAGES}`);
  return rate;
}

// ---------- Eventloom ----------

async function consumeAll(transport: SqliteTransport, queue: string, count: number): Promise<() => Promise<number>> {
  let handled = 0;
  let finished = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const consumer = transport.consume<Bench>(
    { queue },
    {
      Bench: () => {
        if (++handled === count) {
          finished = performance.now();
          resolveDone();
        }
      },
    },
    { prefetch: PREFETCH, logger: false },
  );
  await consumer.ready;
  return async () => {
    await done;
    await consumer.stop();
    return finished;
  };
}

async function eventloomThroughput(filename: string, single: boolean): Promise<{ rate: number; commits: number; largest: number }> {
  const transport = openSqliteTransport({ filename, tracing: false });
  const finish = await consumeAll(transport, 'jobs', MESSAGES);
  const started = performance.now();
  if (single) {
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < MESSAGES) await transport.send('jobs', { type: 'Bench', data: payload(next++) });
      }),
    );
  } else {
    for (let sent = 0; sent < MESSAGES; sent += BATCH) {
      const batch: Bench[] = [];
      for (let i = sent; i < Math.min(MESSAGES, sent + BATCH); i++) batch.push({ type: 'Bench', data: payload(i) });
      await transport.send('jobs', batch);
    }
  }
  const finished = await finish();
  const { commits, largestGroup } = transport.writeStats;
  await transport.close();
  return { rate: MESSAGES / ((finished - started) / 1000), commits, largest: largestGroup };
}

async function eventloomLatency(filename: string): Promise<{ p50: number; p99: number; count: number }> {
  const transport = openSqliteTransport({ filename, tracing: false });
  const latencies: number[] = [];
  const consumer = transport.consume<Bench>(
    { queue: 'latency' },
    { Bench: (m) => void latencies.push(performance.timeOrigin + performance.now() - m.data.sentAt) },
    { logger: false },
  );
  await consumer.ready;
  // Warm-up.
  await transport.send('latency', { type: 'Bench', data: payload(-1) });
  while (latencies.length === 0) await sleep(5);
  latencies.length = 0;
  const count = LATENCY_SECONDS * 500;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + i * 2;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    void transport.send('latency', { type: 'Bench', data: payload(i) });
  }
  while (latencies.length < count) await sleep(10);
  await consumer.stop();
  await transport.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count };
}

// ---------- run ----------

const raw: number[] = [];
const batched: { rate: number; commits: number; largest: number }[] = [];
const single: { rate: number; commits: number; largest: number }[] = [];
console.log(`Q-SQLITE: ${fmt(MESSAGES)} × 1 KB, ${ROUNDS} rounds, WAL + synchronous=FULL, ${tmpdir()}`);
for (let round = 1; round <= ROUNDS; round++) {
  raw.push(await withFile(rawThroughput));
  console.log(`  round ${round} raw better-sqlite3:        ${fmt(raw.at(-1)!)} msgs/s`);
  batched.push(await withFile((file) => eventloomThroughput(file, false)));
  const b = batched.at(-1)!;
  console.log(`  round ${round} SqliteTransport (sends of ${BATCH}): ${fmt(b.rate)} msgs/s (${fmt(b.commits)} commits, largest group ${b.largest})`);
  single.push(await withFile((file) => eventloomThroughput(file, true)));
  const s = single.at(-1)!;
  console.log(`  round ${round} SqliteTransport (single sends, ${IN_FLIGHT} in flight): ${fmt(s.rate)} msgs/s (${fmt(s.commits)} commits, largest group ${s.largest})`);
}
const bestRaw = Math.max(...raw);
const bestBatched = Math.max(...batched.map((b) => b.rate));
const bestSingle = Math.max(...single.map((s) => s.rate));
const latency = await withFile(eventloomLatency);
console.log('');
console.log('| Q-SQLITE | figure |');
console.log('|---|---|');
console.log(`| raw better-sqlite3 (inserts of ${BATCH}, claims of ${BATCH} + DELETE), best | ${fmt(bestRaw)} msgs/s |`);
console.log(`| SqliteTransport, sends of ${BATCH}, acked one by one, best | ${fmt(bestBatched)} msgs/s (${fmt(bestBatched / bestRaw, 2)}× raw; target ≥ 0.5×) |`);
console.log(`| SqliteTransport, single sends (${IN_FLIGHT} in flight), acked one by one, best | ${fmt(bestSingle)} msgs/s (${fmt(bestSingle / bestRaw, 2)}× raw) |`);
console.log(`| send-to-handler at 500 msgs/s (${fmt(latency.count)} messages) | p50 ${fmt(latency.p50, 2)} ms, p99 ${fmt(latency.p99, 2)} ms |`);
