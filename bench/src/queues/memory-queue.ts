/**
 * Q-MEMORY: the in-memory transport (core's engine over MemoryTransportDriver) beside a raw
 * in-process hand-off doing the same work, in one run.
 *
 * - throughput: N × 1 KB messages sent and consumed. Raw: messages pushed on an array in
 *   batches of 1,000 and a handler called for each as it is taken off. Eventloom: `send` in
 *   batches of 1,000 (each message checked, given an id, its JSON written), one consumer with
 *   prefetch 2,000 and a synchronous handler, every message acked. Figure: messages/s from the
 *   first send to the last handler call, by the wall clock and per CPU second (the machine is
 *   shared; CPU seconds are the steadier figure). Raw and Eventloom alternate, `--rounds` times
 *   (default 5: the first rounds are the JIT's warm-up); the median and the best of each are
 *   reported and compared. `--isolation json` gives each delivery its own copy (the
 *   default of MemoryTransport); `shared` (the default here) hands over the sent objects.
 * - latency: one message every 2 ms (500 msgs/s) for `--latency-seconds`, send-to-handler p50/p99.
 *
 * - `--bytes 1024` sets the message size (the padding string; `--bytes 64` for small messages),
 *   `--batch 1000` the messages per `send` (`--batch 1` for single sends; the raw hand-off keeps
 *   its batches of 1,000 either way), `--tracing off` builds the transport without tracing
 *   (with `@opentelemetry/api` installed and no SDK, each handled message still makes a no-op span).
 *
 * Usage: npm run -w @eventloom/bench queue:memory [-- --messages 100000 --rounds 5 --latency-seconds 5 --isolation shared --bytes 1024 --batch 1000 --tracing on]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { MemoryTransport, type Event } from '@eventloom/core';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const isolationArg = args.includes('--isolation') ? args[args.indexOf('--isolation') + 1] : 'shared';
const ISOLATION: 'json' | 'shared' = isolationArg === 'json' ? 'json' : 'shared';
const MESSAGES = option('messages', 100_000);
const ROUNDS = option('rounds', 5);
const LATENCY_SECONDS = option('latency-seconds', 5);
const BATCH = option('batch', 1_000);
const RAW_BATCH = 1_000;
const PREFETCH = 2_000;
const BYTES = option('bytes', 1024);
const TRACING = !(args.includes('--tracing') && args[args.indexOf('--tracing') + 1] === 'off');
// ~BYTES of JSON with the envelope's fields around it.
const PAD = 'x'.repeat(Math.max(0, BYTES - 64));

type Bench = Event<'Bench', { n: number; sentAt: number; pad: string }>;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const cpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

interface Figure {
  readonly perSecond: number;
  readonly perCpuSecond: number;
}

async function raw(): Promise<Figure> {
  const queue: Bench['data'][] = [];
  let head = 0;
  let handled = 0;
  const handle = (data: Bench['data']): void => {
    if (data.n >= 0) handled++;
  };
  const wall = performance.now();
  const cpu = cpuSeconds();
  for (let sent = 0; sent < MESSAGES; sent += RAW_BATCH) {
    for (let i = 0; i < RAW_BATCH; i++) queue.push({ n: sent + i, sentAt: 0, pad: PAD });
    // The consumer's turn, as an await gives it in the transport.
    await Promise.resolve();
    while (head < queue.length) handle(queue[head++]!);
  }
  if (handled !== MESSAGES) throw new Error(`raw handled ${handled}`);
  return { perSecond: MESSAGES / ((performance.now() - wall) / 1000), perCpuSecond: MESSAGES / (cpuSeconds() - cpu) };
}

async function eventloom(): Promise<Figure> {
  const transport = new MemoryTransport({ isolation: ISOLATION, source: 'bench', tracing: TRACING });
  let handled = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  transport.consume<Bench>({ queue: 'bench' }, { Bench: () => void (++handled === MESSAGES && resolve()) }, { prefetch: PREFETCH, logger: false });
  const batch: Bench[] = Array.from({ length: BATCH }, (_, i) => ({ type: 'Bench', data: { n: i, sentAt: 0, pad: PAD } }));
  const wall = performance.now();
  const cpu = cpuSeconds();
  if (BATCH === 1) for (let sent = 0; sent < MESSAGES; sent++) await transport.send('bench', batch[0]!);
  else for (let sent = 0; sent < MESSAGES; sent += BATCH) await transport.send('bench', batch);
  await done;
  const figure = { perSecond: MESSAGES / ((performance.now() - wall) / 1000), perCpuSecond: MESSAGES / (cpuSeconds() - cpu) };
  await transport.close();
  return figure;
}

async function latency(): Promise<{ p50: number; p99: number; count: number }> {
  const transport = new MemoryTransport({ isolation: ISOLATION, source: 'bench', tracing: TRACING });
  const samples: number[] = [];
  transport.consume<Bench>({ queue: 'latency' }, { Bench: (m) => void samples.push(performance.now() - m.data.sentAt) }, { logger: false });
  const until = performance.now() + LATENCY_SECONDS * 1000;
  let n = 0;
  while (performance.now() < until) {
    await transport.send<Bench>('latency', { type: 'Bench', data: { n: n++, sentAt: performance.now(), pad: PAD } });
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setTimeout(r, 50));
  await transport.close();
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: sorted.length };
}

const rounds: { raw: Figure[]; eventloom: Figure[] } = { raw: [], eventloom: [] };
for (let round = 1; round <= ROUNDS; round++) {
  const r = await raw();
  const e = await eventloom();
  console.log(`round ${round}: raw ${fmt(r.perSecond)} msgs/s (${fmt(r.perCpuSecond)}/CPU-s), eventloom ${fmt(e.perSecond)} msgs/s (${fmt(e.perCpuSecond)}/CPU-s)`);
  rounds.raw.push(r);
  rounds.eventloom.push(e);
}
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};
const summary = (figures: readonly Figure[]) => ({
  perSecond: Math.round(median(figures.map((f) => f.perSecond))),
  perCpuSecond: Math.round(median(figures.map((f) => f.perCpuSecond))),
  bestPerSecond: Math.round(Math.max(...figures.map((f) => f.perSecond))),
  bestPerCpuSecond: Math.round(Math.max(...figures.map((f) => f.perCpuSecond))),
});
const raws = summary(rounds.raw);
const eventlooms = summary(rounds.eventloom);
// `--latency-seconds 0` skips the latency run.
const lat = LATENCY_SECONDS > 0 ? await latency() : null;
console.log(
  JSON.stringify({
    workload: 'Q-MEMORY',
    messages: MESSAGES,
    bytes: BYTES,
    batch: BATCH,
    isolation: ISOLATION,
    tracing: TRACING,
    rounds: ROUNDS,
    // Medians of the rounds, and the best round.
    raw: raws,
    eventloom: eventlooms,
    ratio: +(eventlooms.perSecond / raws.perSecond).toFixed(3),
    load: loadavg().map((l) => +l.toFixed(1)),
    latencyMs: lat === null ? null : { p50: +lat.p50.toFixed(3), p99: +lat.p99.toFixed(3), samples: lat.count },
  }),
);
