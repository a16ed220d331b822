/**
 * Q-NATS: the NATS JetStream transport beside the raw client (@nats-io/jetstream) doing the same
 * work, in one run: file streams, publishes awaited on their PubAcks with a Nats-Msg-Id each,
 * durable pull consumers with explicit acks, one by one.
 *
 * - throughput: N × 1 KB messages published and consumed at once. Raw: a work-queue stream, a
 *   window of 256 outstanding PubAcks, a durable pull consumer (`consume`, 256 buffered) acking
 *   each message. Eventloom: `send` in sends of 128, two at a time (at most 256 PubAcks
 *   outstanding), a consumer with prefetch 256. Figure: messages/s from the first
 *   publish to the last ack. Raw and Eventloom alternate, `--rounds` times; the best of each is
 *   compared.
 * - latency: one message every 2 ms (500 msgs/s) for `--latency-seconds`, publish-to-handler p50/p99.
 * - fan-out: `--fanout-messages` published to a topic with 4 groups (raw: an interest stream, 4
 *   durable consumers); figure: deliveries/s.
 *
 * Usage: npm run -w @eventloom/bench queue:nats [-- --messages 100000 --rounds 2 --latency-seconds 10]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Event, Transport } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { NatsTransportDriver } from '@eventloom/nats';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

const servers = process.env.EVENTLOOM_NATS_URL || 'nats://127.0.0.1:4222';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MESSAGES = option('messages', 100_000);
const ROUNDS = option('rounds', 2);
const LATENCY_SECONDS = option('latency-seconds', 10);
const FANOUT_MESSAGES = option('fanout-messages', 20_000);
// --only eventloom|raw: one side's throughput rounds and nothing else (for a CPU profile of it); --only fanout / latency: those runs only.
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
// --raw-no-async-traces: the raw client with the connection setting the transport uses (no stack
// captured per request), to see how much of the difference that one setting is.
const RAW_OPTIONS = args.includes('--raw-no-async-traces') ? { noAsyncTraces: true } : {};
const WINDOW = 256;
const PREFETCH = 256;
const GROUPS = 4;
// ~1 KB of JSON with the envelope's fields around it.
const PAD = 'x'.repeat(960);

type Bench = Event<'Bench', { n: number; sentAt: number; pad: string }>;
const payload = (n: number): Bench['data'] => ({ n, sentAt: Date.now(), pad: PAD });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.timeOrigin + performance.now();

async function deleteStreams(prefix: string): Promise<void> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) if (name.startsWith(prefix)) names.push(name);
    for (const name of names) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

// ---------- raw @nats-io/jetstream ----------

/** Publishes `count` messages keeping `WINDOW` PubAcks outstanding, each with its own Nats-Msg-Id. */
async function rawPublish(js: JetStreamClient, subject: string, count: number, body: (n: number) => Uint8Array): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      await js.publish(subject, body(n), { msgID: randomUUID() });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

interface RawSetup {
  readonly pub: NatsConnection;
  readonly sub: NatsConnection;
  readonly stream: string;
  readonly subject: string;
}

async function rawSetup(kind: 'workqueue' | 'interest', consumers: readonly string[]): Promise<RawSetup> {
  const id = randomUUID().slice(0, 8);
  const stream = `BENCHRAW_${id}`;
  const subject = `benchraw.${id}`;
  const pub = await connect({ servers, ...RAW_OPTIONS });
  const sub = await connect({ servers, ...RAW_OPTIONS });
  const jsm = await jetstreamManager(pub);
  await jsm.streams.add({
    name: stream,
    subjects: [subject],
    storage: StorageType.File,
    retention: kind === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Interest,
  });
  for (const durable of consumers) await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, max_ack_pending: -1 });
  return { pub, sub, stream, subject };
}

async function rawTeardown(setup: RawSetup): Promise<void> {
  await setup.pub.close();
  await setup.sub.close();
  await deleteStreams(setup.stream);
}

/** A durable pull consumer acking each message; resolves `onEach` per message. */
async function rawConsume(setup: RawSetup, durable: string, onEach: (data: Uint8Array) => void): Promise<{ stop(): Promise<void> }> {
  const consumer = await jetstream(setup.sub).consumers.get(setup.stream, durable);
  const messages = await consumer.consume({ max_messages: PREFETCH });
  const loop = (async () => {
    for await (const m of messages) {
      onEach(m.data);
      m.ack();
    }
  })();
  return {
    stop: async () => {
      await messages.close();
      await loop;
    },
  };
}

async function rawThroughput(): Promise<number> {
  const setup = await rawSetup('workqueue', ['c']);
  try {
    let handled = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumer = await rawConsume(setup, 'c', (data) => {
      JSON.parse(decoder.decode(data));
      if (++handled === MESSAGES) done();
    });
    const started = performance.now();
    await rawPublish(jetstream(setup.pub), setup.subject, MESSAGES, (n) => encoder.encode(JSON.stringify(payload(n))));
    await all;
    const rate = MESSAGES / ((performance.now() - started) / 1000);
    await consumer.stop();
    return rate;
  } finally {
    await rawTeardown(setup);
  }
}

async function rawLatency(): Promise<number[]> {
  const setup = await rawSetup('workqueue', ['c']);
  const latencies: number[] = [];
  try {
    const consumer = await rawConsume(setup, 'c', (data) => {
      const { sentAt } = JSON.parse(decoder.decode(data)) as { sentAt: number };
      latencies.push(now() - sentAt);
    });
    const js = jetstream(setup.pub);
    await paced(async (n) => {
      await js.publish(setup.subject, encoder.encode(JSON.stringify({ ...payload(n), sentAt: now() })), { msgID: randomUUID() });
    });
    await sleep(500);
    await consumer.stop();
    return latencies;
  } finally {
    await rawTeardown(setup);
  }
}

async function rawFanOut(): Promise<number> {
  const durables = Array.from({ length: GROUPS }, (_, i) => `g${i}`);
  const setup = await rawSetup('interest', durables);
  try {
    let delivered = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumers = await Promise.all(
      durables.map((durable) =>
        rawConsume(setup, durable, (data) => {
          JSON.parse(decoder.decode(data));
          if (++delivered === FANOUT_MESSAGES * GROUPS) done();
        }),
      ),
    );
    const started = performance.now();
    await rawPublish(jetstream(setup.pub), setup.subject, FANOUT_MESSAGES, (n) => encoder.encode(JSON.stringify(payload(n))));
    await all;
    const rate = (FANOUT_MESSAGES * GROUPS) / ((performance.now() - started) / 1000);
    await Promise.all(consumers.map((c) => c.stop()));
    return rate;
  } finally {
    await rawTeardown(setup);
  }
}

// ---------- Eventloom ----------

interface Opened {
  readonly transport: Transport;
  readonly prefix: string;
}

/** A publishing and a consuming transport (two connections, as two services), on one fresh prefix. */
async function open(): Promise<{ publisher: Transport; consuming: Transport; close(): Promise<void> }> {
  const prefix = `BENCHEL-${randomUUID().slice(0, 8)}`;
  const make = async (): Promise<Opened> => {
    const driver = await NatsTransportDriver.connect({ servers, prefix, publishWindow: WINDOW });
    return { prefix, transport: createTransport(driver, { source: 'bench', tracing: false }) };
  };
  const publisher = await make();
  const consuming = await make();
  return {
    publisher: publisher.transport,
    consuming: consuming.transport,
    close: async () => {
      await publisher.transport.close();
      await consuming.transport.close();
      await deleteStreams(`${prefix}_`);
    },
  };
}

async function sendAll(transport: Transport, destination: { queue: string } | { topic: string }, count: number): Promise<void> {
  // Sends of WINDOW / 2 messages, two at a time: at most WINDOW PubAcks outstanding, as the raw
  // client keeps, and no pause while a send waits for its last PubAcks.
  const size = WINDOW / 2;
  const sends: Promise<unknown>[] = [];
  for (let n = 0; n < count; n += size) {
    const batch = Array.from({ length: Math.min(size, count - n) }, (_, i) => ({ type: 'Bench' as const, data: payload(n + i) }));
    if (sends.length >= 2) await sends.shift();
    sends.push('queue' in destination ? transport.send<Bench>(destination.queue, batch) : transport.publish<Bench>(destination.topic, batch));
  }
  await Promise.all(sends);
}

async function eventloomThroughput(): Promise<number> {
  const opened = await open();
  const queue = `bench-${randomUUID().slice(0, 8)}`;
  try {
    await opened.publisher.declare([{ queue }]);
    let handled = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumer = opened.consuming.consume<Bench>(
      { queue },
      {
        Bench: () => {
          if (++handled === MESSAGES) done();
        },
      },
      { prefetch: PREFETCH, concurrency: 64, logger: false },
    );
    await consumer.ready;
    const started = performance.now();
    await sendAll(opened.publisher, { queue }, MESSAGES);
    await all;
    return MESSAGES / ((performance.now() - started) / 1000);
  } finally {
    await opened.close();
  }
}

async function eventloomLatency(): Promise<number[]> {
  const opened = await open();
  const queue = `bench-lat-${randomUUID().slice(0, 8)}`;
  const latencies: number[] = [];
  try {
    await opened.publisher.declare([{ queue }]);
    const consumer = opened.consuming.consume<Bench>(
      { queue },
      { Bench: (m) => void latencies.push(now() - m.data.sentAt) },
      { prefetch: PREFETCH, concurrency: 16, logger: false },
    );
    await consumer.ready;
    await paced(async (n) => {
      await opened.publisher.send<Bench>(queue, { type: 'Bench', data: { ...payload(n), sentAt: now() } });
    });
    await sleep(500);
    return latencies;
  } finally {
    await opened.close();
  }
}

async function eventloomFanOut(): Promise<number> {
  const opened = await open();
  const topic = `bench-fan-${randomUUID().slice(0, 8)}`;
  try {
    const groups = Array.from({ length: GROUPS }, (_, i) => ({ topic, group: `g${i}` }));
    await opened.publisher.declare(groups);
    let delivered = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumers = groups.map((source) =>
      opened.consuming.consume<Bench>(
        source,
        {
          Bench: () => {
            if (++delivered === FANOUT_MESSAGES * GROUPS) done();
          },
        },
        { prefetch: PREFETCH, concurrency: 64, logger: false },
      ),
    );
    await Promise.all(consumers.map((c) => c.ready));
    const started = performance.now();
    await sendAll(opened.publisher, { topic }, FANOUT_MESSAGES);
    await all;
    return (FANOUT_MESSAGES * GROUPS) / ((performance.now() - started) / 1000);
  } finally {
    await opened.close();
  }
}

/** Calls `send(n)` every 2 ms (500/s) for LATENCY_SECONDS, on a schedule (late sends do not shift the next). */
async function paced(send: (n: number) => Promise<void>): Promise<void> {
  const total = LATENCY_SECONDS * 500;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let n = 0; n < total; n++) {
    const wait = started + n * 2 - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(send(n));
  }
  await Promise.all(pending);
}

function summary(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  return `p50 ${fmt(percentile(sorted, 50), 2)} ms, p99 ${fmt(percentile(sorted, 99), 2)} ms (${fmt(sorted.length)} messages)`;
}

/** Runs `run` and says its rate and this process's CPU time per message (user + system), steadier than the rate on a shared machine. */
async function measured(run: () => Promise<number>): Promise<{ rate: number; cpuUs: number }> {
  const before = process.cpuUsage();
  const rate = await run();
  const used = process.cpuUsage(before);
  return { rate, cpuUs: (used.user + used.system) / MESSAGES };
}

async function fanOutMeasured(run: () => Promise<number>): Promise<{ rate: number; cpuUs: number }> {
  const before = process.cpuUsage();
  const rate = await run();
  const used = process.cpuUsage(before);
  return { rate, cpuUs: (used.user + used.system) / (FANOUT_MESSAGES * GROUPS) };
}
const fanLine = (r: { rate: number; cpuUs: number }): string => `${fmt(r.rate)} deliveries/s, ${fmt(r.cpuUs, 1)} µs CPU per delivery`;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const nc = await connect({ servers });
  const version = nc.info?.version ?? '?';
  await nc.close();
  console.log(`Q-NATS on nats-server ${version} at ${servers}: ${fmt(MESSAGES)} × ~1 KB, file streams, PubAcks with Nats-Msg-Id, acks one by one\n`);
  if (ONLY === 'latency') {
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}: latency at 500 msgs/s, raw:       ${summary(await rawLatency())}`);
      console.log(`round ${round}: latency at 500 msgs/s, Eventloom: ${summary(await eventloomLatency())}`);
    }
    return;
  }
  if (ONLY === 'fanout') {
    for (let round = 1; round <= ROUNDS; round++) {
      const rawFan = await fanOutMeasured(rawFanOut);
      const elFan = await fanOutMeasured(eventloomFanOut);
      console.log(`round ${round}: fan-out to ${GROUPS} groups: raw ${fanLine(rawFan)}; Eventloom ${fanLine(elFan)} = ${fmt(elFan.rate / rawFan.rate, 2)}× raw`);
    }
    return;
  }
  const raw: { rate: number; cpuUs: number }[] = [];
  const eventloom: { rate: number; cpuUs: number }[] = [];
  const line = (r: { rate: number; cpuUs: number }): string => `${fmt(r.rate)} msgs/s, ${fmt(r.cpuUs, 1)} µs CPU per message (publisher and consumer in this process)`;
  for (let round = 1; round <= ROUNDS; round++) {
    if (ONLY !== 'eventloom') {
      raw.push(await measured(rawThroughput));
      console.log(`round ${round}: raw @nats-io/jetstream ${line(raw.at(-1)!)}`);
    }
    if (ONLY !== 'raw') {
      eventloom.push(await measured(eventloomThroughput));
      console.log(`round ${round}: Eventloom              ${line(eventloom.at(-1)!)}`);
    }
  }
  if (ONLY !== null) return;
  const bestRaw = Math.max(...raw.map((r) => r.rate));
  const bestEventloom = Math.max(...eventloom.map((r) => r.rate));
  const medRaw = median(raw.map((r) => r.rate));
  const medEventloom = median(eventloom.map((r) => r.rate));
  console.log(`throughput, best of ${ROUNDS}: raw ${fmt(bestRaw)}, Eventloom ${fmt(bestEventloom)} msgs/s = ${fmt(bestEventloom / bestRaw, 2)}× raw (target ≥ 0.8×)`);
  console.log(`throughput, median of ${ROUNDS}: raw ${fmt(medRaw)}, Eventloom ${fmt(medEventloom)} msgs/s = ${fmt(medEventloom / medRaw, 2)}× raw`);
  const cpuRaw = median(raw.map((r) => r.cpuUs));
  const cpuEventloom = median(eventloom.map((r) => r.cpuUs));
  console.log(`CPU per message, median: raw ${fmt(cpuRaw, 1)} µs, Eventloom ${fmt(cpuEventloom, 1)} µs (raw / Eventloom = ${fmt(cpuRaw / cpuEventloom, 2)}×)\n`);
  console.log(`latency at 500 msgs/s, raw:       ${summary(await rawLatency())}`);
  console.log(`latency at 500 msgs/s, Eventloom: ${summary(await eventloomLatency())}\n`);
  const rawFan = await fanOutMeasured(rawFanOut);
  console.log(`fan-out to ${GROUPS} groups, raw:       ${fanLine(rawFan)}`);
  const elFan = await fanOutMeasured(eventloomFanOut);
  console.log(`fan-out to ${GROUPS} groups, Eventloom: ${fanLine(elFan)} = ${fmt(elFan.rate / rawFan.rate, 2)}× raw`);
}

await main();
