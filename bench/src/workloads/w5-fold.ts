/**
 * W5: read one long stream and fold it into state — loading an aggregate. The read is repeated
 * and the fastest counts: load from elsewhere on the machine only ever slows a read down. A
 * target whose aggregate load reads less than the whole envelope (`foldStream`: Eventloom's
 * `loadState` reads type, data, metadata and version) is timed on that, and on the whole-envelope
 * `readStream` too, reported beside it as `full envelope`.
 */
import { evolve, initialFold, orderBatch } from '../payload.js';
import { median, now, perSecond } from '../stats.js';
import { appendRetrying, cpuMs, formatCount, retryNote, type RetryLog } from './helpers.js';
import type { FoldEvent } from '../target.js';
import type { Check, Workload } from './types.js';

const APPEND_SIZE = 100;

export const w5Fold: Workload = {
  id: 'W5',
  title: (sizes) => `read and fold one ${formatCount(sizes.foldEvents)}-event stream`,
  backends: ['sqlite', 'postgres'],
  primary: { key: 'rate', unit: 'events/s', better: 'higher' },
  // CPU time of the target's process (the store's whole work on SQLite, the client's on PostgreSQL):
  // on a loaded machine it compares targets where wall time mostly measures the scheduler.
  secondary: [
    { key: 'cpuRate', label: 'per CPU-s' },
    { key: 'wholeRate', label: 'full envelope' },
    { key: 'wholeCpuRate', label: 'full envelope per CPU-s' },
  ],
  timeoutMs: () => 180_000,
  async run(target, { sizes, progress }) {
    const stream = 'order-w5-fold';
    const n = sizes.foldEvents;
    const retries: RetryLog = { count: 0 };
    let version = 0n;
    for (let written = 0; written < n; written += APPEND_SIZE) {
      const size = Math.min(APPEND_SIZE, n - written);
      const expectation = version === 0n ? ({ kind: 'no_stream' } as const) : ({ kind: 'version', version } as const);
      const outcome = await appendRetrying(target, stream, orderBatch(written, size), expectation, retries);
      if (!outcome.ok) throw new Error(`conflict while filling ${stream}`);
      version = outcome.nextVersion;
    }
    progress(`filled ${stream} with ${formatCount(n)} events; reading it ${sizes.foldRepeats}×`);
    const checks: Check[] = [];
    const foldStream = target.foldStream?.bind(target);
    const reads: { which: string; read: (visit: (event: FoldEvent) => void) => Promise<void> }[] = [
      { which: '', read: (visit) => (foldStream ?? target.readStream.bind(target))(stream, visit) },
      ...(foldStream ? [{ which: ' (full envelope)', read: (visit: (event: FoldEvent) => void) => target.readStream(stream, visit) }] : []),
    ];
    // The reads alternate, so that neither meets a colder process or a different moment's load.
    const samples = reads.map(() => ({ times: [] as number[], cpuTimes: [] as number[] }));
    for (let r = 0; r < sizes.foldRepeats; r++) {
      for (const [i, { which, read }] of reads.entries()) {
        const state = initialFold();
        let count = 0;
        const start = now();
        const cpu = process.cpuUsage();
        await read((event) => {
          evolve(state, event);
          count++;
        });
        samples[i]!.times.push(now() - start);
        samples[i]!.cpuTimes.push(cpuMs(process.cpuUsage(cpu)));
        if (r === 0) {
          checks.push({ name: `all events folded${which}`, ok: count === n && state.orders === n, detail: `${formatCount(count)} of ${formatCount(n)}` });
        }
      }
    }
    const { times, cpuTimes } = samples[0]!;
    const whole = samples[1];
    const failed = checks.find((c) => !c.ok);
    return {
      figures: {
        rate: perSecond(n, Math.min(...times)),
        median: perSecond(n, median(times)),
        cpuRate: perSecond(n, Math.min(...cpuTimes)),
        ...(whole && { wholeRate: perSecond(n, Math.min(...whole.times)), wholeCpuRate: perSecond(n, Math.min(...whole.cpuTimes)) }),
      },
      checks,
      eventsWritten: n,
      notes: retryNote(retries),
      countUncertain: retries.count > 0,
      ...(failed ? { failure: `${failed.name}: ${failed.detail}` } : {}),
    };
  },
};
