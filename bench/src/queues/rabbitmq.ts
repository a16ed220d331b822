/**
 * Q-RMQ: the RabbitMQ transport beside raw amqplib doing the same work, in one run, on quorum
 * queues with publisher confirms and manual acks, one by one.
 *
 * - throughput: N × 1 KB messages published and consumed at once. Raw: a confirm channel with a
 *   window of 256 outstanding confirms, a consumer channel with prefetch 256 acking each message.
 *   Eventloom: `send` in sends of 256 (the driver keeps 256 confirms outstanding), a consumer with
 *   prefetch 256, each message acked once handled — the engine batches the acks, and the
 *   driver sends a run of them as one `basic.ack` with `multiple` (raw acks each one). Figure:
 *   messages/s from the first publish to the last ack. Raw and Eventloom alternate, `--rounds`
 *   times; the best of each is compared.
 *   Eventloom also in CloudEvents structured mode (one JSON body, no AMQP headers).
 * - latency: one message every 2 ms (500 msgs/s) for `--latency-seconds`, publish-to-handler p50/p99.
 * - fan-out: `--fanout-messages` published to a topic with 4 groups (raw: a fanout exchange, 4
 *   quorum queues, a consumer each); figure: deliveries/s.
 *
 * Beside each throughput, the CPU time this process spent per message (publisher and consumer
 * both run here), which a machine busy with other work distorts less than the rate, and the
 * local broker's (its beam.smp process read from /proc; left out when the broker is elsewhere):
 * on one machine the two share the cores, so the rate follows their sum.
 *
 * Usage: npm run -w @eventloom/bench queue:rabbitmq [-- --messages 100000 --rounds 2 --latency-seconds 10 --only raw,binary]
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import amqp, { type ConfirmChannel } from 'amqplib';
import type { Event, Transport } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { RabbitMqDriver } from '@eventloom/rabbitmq';

const url = process.env.EVENTLOOM_RABBITMQ_URL || 'amqp://guest:guest@127.0.0.1:5672';
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MESSAGES = option('messages', 100_000);
const ROUNDS = option('rounds', 2);
const LATENCY_SECONDS = option('latency-seconds', 10);
const FANOUT_MESSAGES = option('fanout-messages', 20_000);
// Which parts to run (comma-separated): raw, binary, structured, latency, fanout; all by default.
const ONLY = new Set((args.includes('--only') ? args[args.indexOf('--only') + 1]! : 'raw,binary,structured,latency,fanout').split(','));
const WINDOW = 256;
const PREFETCH = 256;
const GROUPS = 4;
// ~1 KB of JSON with the envelope's fields around it.
const PAD = 'x'.repeat(960);

type Bench = Event<'Bench', { n: number; sentAt: number; pad: string }>;
const payload = (n: number): Bench['data'] => ({ n, sentAt: Date.now(), pad: PAD });

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function withChannel<T>(work: (channel: amqp.Channel) => Promise<T>): Promise<T> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const result = await work(channel);
    await channel.close();
    return result;
  } finally {
    await connection.close();
  }
}

const deleteQueues = (queues: readonly string[], exchanges: readonly string[] = []): Promise<void> =>
  withChannel(async (channel) => {
    for (const q of queues) await channel.deleteQueue(q);
    for (const x of exchanges) await channel.deleteExchange(x);
  });

/** Publishes `count` messages through a confirm channel keeping `WINDOW` confirms outstanding. */
async function rawPublish(channel: ConfirmChannel, exchange: string, routingKey: string, count: number, body: (n: number) => Buffer): Promise<void> {
  let inFlight = 0;
  let wake: (() => void) | null = null;
  let failed: unknown = null;
  for (let n = 0; n < count; n++) {
    while (inFlight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve));
    if (failed) throw failed;
    inFlight++;
    const ok = channel.publish(exchange, routingKey, body(n), { persistent: true, contentType: 'application/json', messageId: randomUUID() }, (error: unknown) => {
      if (error) failed = error;
      inFlight--;
      const w = wake;
      wake = null;
      w?.();
    });
    if (!ok) await new Promise((resolve) => channel.once('drain', resolve));
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failed) throw failed;
}

// ---------- raw amqplib ----------

async function rawThroughput(): Promise<number> {
  const queue = `bench-raw-${randomUUID()}`;
  const pub = await amqp.connect(url);
  const sub = await amqp.connect(url);
  try {
    const publishChannel = await pub.createConfirmChannel();
    await publishChannel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const consumeChannel = await sub.createChannel();
    await consumeChannel.prefetch(PREFETCH, false);
    let handled = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    await consumeChannel.consume(queue, (m) => {
      if (!m) return;
      JSON.parse(m.content.toString('utf8'));
      consumeChannel.ack(m);
      if (++handled === MESSAGES) done();
    });
    const started = performance.now();
    await rawPublish(publishChannel, '', queue, MESSAGES, (n) => Buffer.from(JSON.stringify(payload(n))));
    await all;
    return MESSAGES / ((performance.now() - started) / 1000);
  } finally {
    await pub.close();
    await sub.close();
    await deleteQueues([queue]);
  }
}

async function rawLatency(): Promise<number[]> {
  const queue = `bench-raw-lat-${randomUUID()}`;
  const pub = await amqp.connect(url);
  const sub = await amqp.connect(url);
  const latencies: number[] = [];
  try {
    const publishChannel = await pub.createConfirmChannel();
    await publishChannel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const consumeChannel = await sub.createChannel();
    await consumeChannel.prefetch(PREFETCH, false);
    await consumeChannel.consume(queue, (m) => {
      if (!m) return;
      const { sentAt } = JSON.parse(m.content.toString('utf8')) as { sentAt: number };
      latencies.push(performance.timeOrigin + performance.now() - sentAt);
      consumeChannel.ack(m);
    });
    await paced(async (n) => {
      await new Promise<void>((resolve, reject) =>
        publishChannel.sendToQueue(queue, Buffer.from(JSON.stringify({ ...payload(n), sentAt: performance.timeOrigin + performance.now() })), { persistent: true }, (e: unknown) =>
          e ? reject(e as Error) : resolve(),
        ),
      );
    });
    await sleep(500);
    return latencies;
  } finally {
    await pub.close();
    await sub.close();
    await deleteQueues([queue]);
  }
}

async function rawFanOut(): Promise<number> {
  const exchange = `bench-raw-fan-${randomUUID()}`;
  const queues = Array.from({ length: GROUPS }, (_, i) => `${exchange}-g${i}`);
  const pub = await amqp.connect(url);
  const sub = await amqp.connect(url);
  try {
    const publishChannel = await pub.createConfirmChannel();
    await publishChannel.assertExchange(exchange, 'fanout', { durable: true });
    let delivered = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    for (const queue of queues) {
      await publishChannel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await publishChannel.bindQueue(queue, exchange, '');
      const channel = await sub.createChannel();
      await channel.prefetch(PREFETCH, false);
      await channel.consume(queue, (m) => {
        if (!m) return;
        JSON.parse(m.content.toString('utf8'));
        channel.ack(m);
        if (++delivered === FANOUT_MESSAGES * GROUPS) done();
      });
    }
    const started = performance.now();
    await rawPublish(publishChannel, exchange, '', FANOUT_MESSAGES, (n) => Buffer.from(JSON.stringify(payload(n))));
    await all;
    return (FANOUT_MESSAGES * GROUPS) / ((performance.now() - started) / 1000);
  } finally {
    await pub.close();
    await sub.close();
    await deleteQueues(queues, [exchange]);
  }
}

// ---------- Eventloom ----------

interface Opened {
  readonly transport: Transport;
  readonly driver: RabbitMqDriver;
}

let mode: 'binary' | 'structured' = 'binary';

function open(): Opened {
  const driver = new RabbitMqDriver({ url, confirmWindow: WINDOW, noDelay: process.env.EVENTLOOM_BENCH_NODELAY === '1', cloudEventsMode: mode });
  return { driver, transport: createTransport(driver, { source: 'bench', tracing: false }) };
}

async function closeAll(opened: readonly Opened[]): Promise<void> {
  const queues = new Set<string>();
  const exchanges = new Set<string>();
  for (const { transport, driver } of opened) {
    await transport.close();
    for (const q of driver.declaredResources().queues) queues.add(q);
    for (const x of driver.declaredResources().exchanges) exchanges.add(x);
  }
  await deleteQueues([...queues], [...exchanges]);
}

async function sendAll(transport: Transport, destination: { queue: string } | { topic: string }, count: number): Promise<void> {
  // Sends of WINDOW messages, a few at once, so the driver's confirm window stays full.
  const sends: Promise<unknown>[] = [];
  for (let n = 0; n < count; n += WINDOW) {
    const batch = Array.from({ length: Math.min(WINDOW, count - n) }, (_, i) => ({ type: 'Bench' as const, data: payload(n + i) }));
    sends.push('queue' in destination ? transport.send<Bench>(destination.queue, batch) : transport.publish<Bench>(destination.topic, batch));
    if (sends.length >= 4) await sends.shift();
  }
  await Promise.all(sends);
}

async function eventloomThroughput(): Promise<number> {
  const publisher = open();
  const consuming = open();
  const queue = `bench-el-${randomUUID()}`;
  try {
    await publisher.transport.declare([{ queue }]);
    let handled = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumer = consuming.transport.consume<Bench>(
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
    await sendAll(publisher.transport, { queue }, MESSAGES);
    await all;
    return MESSAGES / ((performance.now() - started) / 1000);
  } finally {
    await closeAll([publisher, consuming]);
  }
}

async function eventloomLatency(): Promise<number[]> {
  const publisher = open();
  const consuming = open();
  const queue = `bench-el-lat-${randomUUID()}`;
  const latencies: number[] = [];
  try {
    await publisher.transport.declare([{ queue }]);
    const consumer = consuming.transport.consume<Bench>(
      { queue },
      { Bench: (m) => void latencies.push(performance.timeOrigin + performance.now() - m.data.sentAt) },
      { prefetch: PREFETCH, concurrency: 16, logger: false },
    );
    await consumer.ready;
    await paced(async (n) => {
      await publisher.transport.send<Bench>(queue, { type: 'Bench', data: { ...payload(n), sentAt: performance.timeOrigin + performance.now() } });
    });
    await sleep(500);
    return latencies;
  } finally {
    await closeAll([publisher, consuming]);
  }
}

async function eventloomFanOut(): Promise<number> {
  const publisher = open();
  const consuming = open();
  const topic = `bench-el-fan-${randomUUID()}`;
  try {
    const groups = Array.from({ length: GROUPS }, (_, i) => ({ topic, group: `g${i}` }));
    await publisher.transport.declare(groups);
    let delivered = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumers = groups.map((source) =>
      consuming.transport.consume<Bench>(
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
    await sendAll(publisher.transport, { topic }, FANOUT_MESSAGES);
    await all;
    return (FANOUT_MESSAGES * GROUPS) / ((performance.now() - started) / 1000);
  } finally {
    await closeAll([publisher, consuming]);
  }
}

/** Calls `send(n)` every 2 ms (500/s) for LATENCY_SECONDS, on a schedule (late sends do not shift the next). */
async function paced(send: (n: number) => Promise<void>): Promise<void> {
  const total = LATENCY_SECONDS * 500;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let n = 0; n < total; n++) {
    const due = started + n * 2;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(send(n));
  }
  await Promise.all(pending);
}

/** The local broker's process (the longest-running RabbitMQ beam.smp: tests' throwaway nodes start later), to read its CPU time; null when the broker runs elsewhere. */
const brokerPid: string | null = (() => {
  let found: { pid: string; started: number } | null = null;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'beam.smp' || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('rabbit')) continue;
        // The start time is the 20th field after the command's closing parenthesis.
        const started = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
        if (found === null || started < found.started) found = { pid, started };
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return found?.pid ?? null;
})();

/** The broker's CPU time so far in µs (user + system), or NaN. */
function brokerCpu(): number {
  if (brokerPid === null) return NaN;
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in clock ticks (100 per second).
    const fields = readFileSync(`/proc/${brokerPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

/** The result of `work`, the CPU time (user + system, µs) this process spent on it — a figure a busy machine distorts less than the rate — and the broker's. */
async function withCpu<T>(work: () => Promise<T>): Promise<[T, number, number]> {
  const before = process.cpuUsage();
  const brokerBefore = brokerCpu();
  const result = await work();
  const used = process.cpuUsage(before);
  return [result, used.user + used.system, brokerCpu() - brokerBefore];
}

const cpuText = (cpu: number, broker: number, count: number, unit = 'message'): string =>
  `${fmt(cpu / count, 1)} µs CPU per ${unit} here${Number.isNaN(broker) ? '' : `, ${fmt(broker / count, 1)} in the broker`}`;

function summary(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  return `p50 ${fmt(percentile(sorted, 50), 2)} ms, p99 ${fmt(percentile(sorted, 99), 2)} ms (${fmt(sorted.length)} messages)`;
}

async function main(): Promise<void> {
  const version = await withChannel(async (channel) => String((channel.connection as unknown as { serverProperties?: { version?: unknown } }).serverProperties?.version ?? '?'));
  console.log(`Q-RMQ on RabbitMQ ${version} at ${url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')}: ${fmt(MESSAGES)} × ~1 KB, quorum queues, confirms, every message acked (raw: one by one)\n`);
  const raw: number[] = [];
  const eventloom: number[] = [];
  const structured: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ONLY.has('raw')) {
      const [rawRate, rawCpu, rawBroker] = await withCpu(rawThroughput);
      raw.push(rawRate);
      console.log(`round ${round}: raw amqplib      ${fmt(rawRate)} msgs/s, ${cpuText(rawCpu, rawBroker, MESSAGES)}`);
    }
    if (ONLY.has('binary')) {
      const [elRate, elCpu, elBroker] = await withCpu(eventloomThroughput);
      eventloom.push(elRate);
      console.log(`round ${round}: Eventloom        ${fmt(elRate)} msgs/s, ${cpuText(elCpu, elBroker, MESSAGES)}`);
    }
    if (ONLY.has('structured')) {
      mode = 'structured';
      const [stRate, stCpu, stBroker] = await withCpu(eventloomThroughput);
      mode = 'binary';
      structured.push(stRate);
      console.log(`round ${round}: Eventloom, structured mode ${fmt(stRate)} msgs/s, ${cpuText(stCpu, stBroker, MESSAGES)}`);
    }
  }
  const median = (xs: readonly number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  };
  if (raw.length > 0 && eventloom.length > 0) {
    const bestRaw = Math.max(...raw);
    const bestEventloom = Math.max(...eventloom);
    console.log(`throughput, best of ${ROUNDS}: raw ${fmt(bestRaw)}, Eventloom ${fmt(bestEventloom)} msgs/s = ${fmt(bestEventloom / bestRaw, 2)}× raw (target ≥ 0.8×)`);
    console.log(`  medians: raw ${fmt(median(raw))}, Eventloom ${fmt(median(eventloom))} = ${fmt(median(eventloom) / median(raw), 2)}×; per round: ${raw.map((r, i) => fmt(eventloom[i]! / r, 2)).join(', ')}`);
    if (structured.length > 0) console.log(`  structured mode ${fmt(Math.max(...structured))} msgs/s = ${fmt(Math.max(...structured) / bestRaw, 2)}× raw\n`);
  }
  if (ONLY.has('latency')) {
    console.log(`latency at 500 msgs/s, raw amqplib: ${summary(await rawLatency())}`);
    console.log(`latency at 500 msgs/s, Eventloom:   ${summary(await eventloomLatency())}\n`);
  }
  if (ONLY.has('fanout')) {
    const [rawFan, rawFanCpu, rawFanBroker] = await withCpu(rawFanOut);
    console.log(`fan-out to ${GROUPS} groups, raw amqplib: ${fmt(rawFan)} deliveries/s, ${cpuText(rawFanCpu, rawFanBroker, FANOUT_MESSAGES * GROUPS, 'delivery')}`);
    const [elFan, elFanCpu, elFanBroker] = await withCpu(eventloomFanOut);
    console.log(`fan-out to ${GROUPS} groups, Eventloom:   ${fmt(elFan)} deliveries/s = ${fmt(elFan / rawFan, 2)}× raw, ${cpuText(elFanCpu, elFanBroker, FANOUT_MESSAGES * GROUPS, 'delivery')}`);
  }
}

await main();
