/**
 * Q-PG: the PostgreSQL queue beside raw `pg` with SKIP LOCKED doing the same work, in one run.
 *
 * - throughput: one publisher sends N × 1 KB messages in sends of 100 while 4 consumers take
 *   them; every message is handled and acknowledged on its own (the engine batches the acks into
 *   statements, as raw does by hand). Raw: the same schema shape (destination, seq, visible_at,
 *   lease), claims of 100 committed under a lease with `FOR UPDATE SKIP LOCKED`, then one DELETE
 *   of the batch; statements unnamed (re-planned as the table grows). Figure: messages/s from the
 *   first send to the last handled message. Both commit claims and deletes asynchronously
 *   (`synchronous_commit = off` for those transactions: a lost one is a redelivery) and sends
 *   synchronously.
 * - latency: one message every 2 ms (500 msgs/s) for `LATENCY_SECONDS`, publish-to-handler p50/p99.
 * - claim at 0 and 100k rows: the time of one claim of 100 (and its ack) on a queue table holding
 *   nothing else and holding 100,000 waiting messages of another queue plus the dead rows
 *   earlier runs left (autovacuum off on the local server): the statements must stay index scans.
 *
 * Usage: npm run -w @eventloom/bench queue:postgres [-- --messages 100000 --latency-seconds 10]
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { dropPostgresEventStore } from '@eventloom/postgres';
import { openPostgresTransport, openPostgresTransportDriver } from '@eventloom/postgres';

const url = process.env.EVENTLOOM_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MESSAGES = option('messages', 100_000);
const LATENCY_SECONDS = option('latency-seconds', 10);
const CONSUMERS = 4;
const BATCH = 100;
const PAD = 'x'.repeat(860);

type Bench = pg.Client;

function payload(n: number): { n: number; sentAt: number; pad: string } {
  return { n, sentAt: Date.now(), pad: PAD };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function serverSettings(client: Bench): Promise<string> {
  const { rows } = await client.query(
    "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'autovacuum') ORDER BY name",
  );
  return rows.map((r) => `${r.name}=${r.setting}`).join(', ');
}

// ---------- raw pg ----------

/** As the transport does: claims and deletes commit without waiting for the flush (a lost one means a redelivery); inserts wait. */
const ASYNC = `(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL`;

async function rawThroughput(): Promise<number> {
  const schema = `bench_rawq_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.q (destination text NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY, id uuid NOT NULL,
      visible_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0, lease_until timestamptz, envelope text NOT NULL,
      PRIMARY KEY (destination, seq));
    CREATE INDEX q_ready ON ${schema}.q (destination, visible_at, seq);`);
  const pool = new pg.Pool({ connectionString: url, max: CONSUMERS + 2 });
  let handled = 0;
  const started = performance.now();
  let finished = 0;
  const done = new Promise<void>((resolve) => {
    const consumers = Array.from({ length: CONSUMERS }, async () => {
      for (;;) {
        if (handled >= MESSAGES) return;
        const { rows } = await pool.query(
          `WITH c AS (SELECT seq FROM ${schema}.q WHERE destination = 'jobs' AND visible_at <= now() ORDER BY visible_at, seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
           UPDATE ${schema}.q q SET attempts = q.attempts + 1, visible_at = now() + interval '30 s', lease_until = now() + interval '30 s'
           FROM c WHERE q.destination = 'jobs' AND q.seq = c.seq AND ${ASYNC} RETURNING q.seq, q.envelope`,
        );
        if (rows.length === 0) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        for (const row of rows) JSON.parse(row.envelope);
        await pool.query(`DELETE FROM ${schema}.q WHERE destination = 'jobs' AND seq = ANY ($1::bigint[]) AND ${ASYNC}`, [rows.map((r) => r.seq)]);
        handled += rows.length;
        if (handled >= MESSAGES && !finished) {
          finished = performance.now();
          resolve();
        }
      }
    });
    void Promise.all(consumers);
  });
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    const ids: string[] = [];
    const envelopes: string[] = [];
    for (let i = sent; i < Math.min(MESSAGES, sent + BATCH); i++) {
      ids.push(crypto.randomUUID());
      envelopes.push(JSON.stringify({ id: ids.at(-1), type: 'Job', data: payload(i) }));
    }
    await pool.query(`INSERT INTO ${schema}.q (destination, id, envelope) SELECT 'jobs', * FROM unnest($1::uuid[], $2::text[])`, [ids, envelopes]);
  }
  await done;
  const rate = MESSAGES / ((finished - started) / 1000);
  await pool.end();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  return rate;
}

// ---------- Eventloom ----------

type Job = { type: 'Job'; data: { n: number; sentAt: number; pad: string } };

async function eventloomThroughput(schema: string): Promise<number> {
  const transport = await openPostgresTransport({ connectionString: url, schema, poolSize: CONSUMERS + 4, tracing: false });
  let handled = 0;
  let finished = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const consumers = Array.from({ length: CONSUMERS }, () =>
    transport.consume<Job>(
      { queue: 'jobs' },
      {
        Job: () => {
          handled++;
          if (handled === MESSAGES) {
            finished = performance.now();
            resolveDone();
          }
        },
      },
      { concurrency: 16, prefetch: 2 * BATCH, logger: false },
    ),
  );
  await Promise.all(consumers.map((c) => c.ready));
  const started = performance.now();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    const batch: Job[] = [];
    for (let i = sent; i < Math.min(MESSAGES, sent + BATCH); i++) batch.push({ type: 'Job', data: payload(i) });
    await transport.send('jobs', batch);
  }
  await done;
  await transport.close();
  return MESSAGES / ((finished - started) / 1000);
}

async function eventloomLatency(schema: string): Promise<{ p50: number; p99: number; count: number }> {
  const transport = await openPostgresTransport({ connectionString: url, schema, poolSize: 6, tracing: false });
  const latencies: number[] = [];
  const consumer = transport.consume<Job>(
    { queue: 'latency' },
    { Job: (m) => void latencies.push(performance.timeOrigin + performance.now() - m.data.sentAt) },
    { concurrency: 4, logger: false },
  );
  await consumer.ready;
  // Warm-up delivery: connections open, LISTEN in place.
  await transport.send('latency', { type: 'Job', data: { n: -1, sentAt: Date.now(), pad: PAD } });
  while (latencies.length < 1) await new Promise((r) => setTimeout(r, 5));
  latencies.length = 0;
  const total = LATENCY_SECONDS * 500;
  const start = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * 2;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sends.push(transport.send('latency', { type: 'Job', data: { n: i, sentAt: performance.timeOrigin + performance.now(), pad: PAD } }));
  }
  await Promise.all(sends);
  const deadline = Date.now() + 30_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await transport.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: sorted.length };
}

/** ms per claim of 100 + ack, on `destination`, averaged over `rounds`. */
async function claimTime(schema: string, queue: string, rounds: number): Promise<number> {
  const driver = await openPostgresTransportDriver({ connectionString: url, schema, poolSize: 2 });
  const receiver = await driver.openReceiver({ queue }, { consumer: queue, visibilityTimeoutMs: 30_000, prefetch: BATCH });
  const envelope = (n: number) => {
    const id = crypto.randomUUID();
    return {
      envelope: { id, type: 'Job', data: payload(n), schemaVersion: 1, time: new Date().toISOString(), source: 'bench', correlationId: id, causationId: null, subject: null, partitionKey: null, metadata: {} },
      deliverAt: null,
    };
  };
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    await driver.enqueue({ kind: 'queue', name: queue }, Array.from({ length: BATCH }, (_, i) => envelope(i)));
    const t0 = performance.now();
    const got = await receiver.receive(BATCH, AbortSignal.timeout(10_000));
    await receiver.ack(got);
    total += performance.now() - t0;
  }
  await receiver.close();
  await driver.close();
  return total / rounds;
}

async function fill(schema: string, queue: string, count: number): Promise<void> {
  const transport = await openPostgresTransport({ connectionString: url, schema, poolSize: 4, tracing: false });
  const sends: Promise<unknown>[] = [];
  for (let sent = 0; sent < count; sent += 1_000) {
    sends.push(transport.send(queue, Array.from({ length: Math.min(1_000, count - sent) }, (_, i) => ({ type: 'Job', data: payload(sent + i) }))));
    if (sends.length >= 4) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  await transport.close();
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  console.log(`Q-PG on ${await serverSettings(admin)}; ${fmt(MESSAGES)} messages of ~1 KB, ${CONSUMERS} consumers, batches of ${BATCH}`);
  await admin.end();
  const schema = `bench_elq_${process.pid}`;
  try {
    // Claim cost with an empty table first, before anything was planned or grew.
    const claimEmpty = await claimTime(schema, 'probe-empty', 50);
    const rawCpu = process.cpuUsage();
    const rawWall = performance.now();
    const raw = await rawThroughput();
    const rawUsed = process.cpuUsage(rawCpu);
    console.log(`raw: this process used ${fmt((rawUsed.user + rawUsed.system) / 1000)} ms of CPU in ${fmt(performance.now() - rawWall)} ms`);
    console.log(`raw pg (SKIP LOCKED, batches of ${BATCH}): ${fmt(raw)} msgs/s`);
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const ours = await eventloomThroughput(schema);
    const used = process.cpuUsage(cpu);
    console.log(
      `eventloom-postgres: ${fmt(ours)} msgs/s — ${(ours / raw).toFixed(2)}× raw (target ≥ 0.5×); this process used ${fmt((used.user + used.system) / 1000)} ms of CPU in ${fmt(performance.now() - wall)} ms`,
    );
    await fill(schema, 'backlog', 100_000);
    const claimFull = await claimTime(schema, 'probe-full', 50);
    const claimInBacklog = await claimTime(schema, 'backlog', 50);
    console.log(
      `claim of ${BATCH} + ack: ${claimEmpty.toFixed(2)} ms on an empty table; ${claimFull.toFixed(2)} ms beside 100,000 waiting rows (and ${fmt(MESSAGES)} dead ones); ${claimInBacklog.toFixed(2)} ms at the head of those 100,000`,
    );
    const latency = await eventloomLatency(schema);
    console.log(`publish-to-handler at 500 msgs/s: p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms (${fmt(latency.count)} messages)`);
  } finally {
    await dropPostgresEventStore({ connectionString: url, schema });
  }
}

await main();
