/**
 * W6: read the whole log from the start, after the earlier workloads' writes (concurrent ones
 * included) and a fill-up to the target size. Every event must be read exactly once: the count
 * read and the distinct events read both equal what was written. Events are told apart by their
 * position where they carry one (positions rise strictly in log order, so one comparison per event
 * finds a repeat: a Set of BigInts cost Eventloom 15% of W6's CPU that the floor, whose stand-in
 * ids are numbers, did not pay), else by a Set of their ids. The log is read more than once;
 * every read is checked and the fastest counts. A target with a read of only what W6 looks at
 * (`scanLog`: position, data) is timed on it, and on its whole-envelope `readAll` too, reported
 * beside it as `full envelope` (checked the same way).
 */
import { orderBatch } from '../payload.js';
import { median, now, perSecond } from '../stats.js';
import { appendRetrying, cpuMs, formatCount, retryNote, type RetryLog } from './helpers.js';
import type { ScanEvent } from '../target.js';
import type { Check, Workload } from './types.js';

const APPEND_SIZE = 100;
/** On PostgreSQL the fill-up itself is written concurrently, so commit order and sequence order differ. */
const FILL_WRITERS = { sqlite: 1, postgres: 4 } as const;

export const w6ReadAll: Workload = {
  id: 'W6',
  title: (sizes) => `read the whole log (≥ ${formatCount(sizes.logEvents)} events) from position 0, each exactly once`,
  backends: ['sqlite', 'postgres'],
  primary: { key: 'rate', unit: 'events/s', better: 'higher' },
  // CPU time of the target's process, as in W5: robust to load where wall time is not.
  secondary: [
    { key: 'read', label: 'events read' },
    { key: 'cpuRate', label: 'per CPU-s' },
    { key: 'wholeRate', label: 'full envelope' },
    { key: 'wholeCpuRate', label: 'full envelope per CPU-s' },
  ],
  timeoutMs: () => 600_000,
  async run(target, { sizes, backend, eventsBefore, progress }) {
    const base = eventsBefore ?? (target.countEvents ? await target.countEvents() : null);
    const toFill = Math.max(0, sizes.logEvents - (base ?? 0));
    const appends = Math.ceil(toFill / APPEND_SIZE);
    let next = 0;
    let filled = 0;
    const retries: RetryLog = { count: 0 };
    const filler = async (): Promise<void> => {
      for (let i = next++; i < appends; i = next++) {
        const size = Math.min(APPEND_SIZE, toFill - i * APPEND_SIZE);
        const outcome = await appendRetrying(target, `order-w6-fill-${i}`, orderBatch(i * APPEND_SIZE, size), { kind: 'no_stream' }, retries);
        if (!outcome.ok) throw new Error(`conflict on the new stream order-w6-fill-${i}`);
        filled += size;
        if (i % 200 === 199) progress(`filled ${formatCount(filled)} of ${formatCount(toFill)} events`);
      }
    };
    await Promise.all(Array.from({ length: FILL_WRITERS[backend] }, filler));
    // A retried append may have landed twice; then only the table can say what was written.
    const expected = base === null || retries.count > 0 ? null : base + filled;

    progress(`reading ${expected === null ? 'the' : formatCount(expected) + '-event'} log ${sizes.logReads}×`);
    const rows = target.countEvents ? await target.countEvents() : null;
    const written = expected ?? rows;
    const checks: Check[] = [];
    const scanLog = target.scanLog?.bind(target);
    const scans: { label: string; scan: (batchSize: number, visit: (event: ScanEvent) => void) => Promise<void> }[] = [
      { label: '', scan: scanLog ?? ((size, visit) => target.readAll(size, visit)) },
      ...(scanLog ? [{ label: 'full envelope ', scan: (size: number, visit: (event: ScanEvent) => void) => target.readAll(size, visit) }] : []),
    ];
    // The reads alternate, so that neither meets a colder process or a different moment's load.
    const samples = scans.map(() => ({ times: [] as number[], cpuTimes: [] as number[], read: 0 }));
    for (let r = 0; r < sizes.logReads; r++) {
      for (const [i, { label, scan }] of scans.entries()) {
        let read = 0;
        const distinct = new DistinctEvents();
        const start = now();
        const cpu = process.cpuUsage();
        await scan(sizes.logBatchSize, (event) => {
          read++;
          distinct.see('position' in event && event.position !== undefined ? event.position : (event as { id?: unknown }).id);
        });
        samples[i]!.times.push(now() - start);
        samples[i]!.cpuTimes.push(cpuMs(process.cpuUsage(cpu)));
        samples[i]!.read = read;
        const which = sizes.logReads > 1 ? ` (${label}read ${r + 1})` : label ? ` (${label.trim()})` : '';
        if (written !== null) {
          checks.push({
            name: `read once each${which}`,
            ok: read === written && distinct.size === written,
            detail: `written ${formatCount(written)}${expected === null ? ' (rows in its table)' : ''}, read ${formatCount(read)}, distinct ${formatCount(distinct.size)}`,
          });
        } else {
          checks.push({ name: `no repeats${which}`, ok: distinct.size === read, detail: `read ${formatCount(read)}, distinct ${formatCount(distinct.size)}; written count unknown` });
        }
      }
    }
    const { times, cpuTimes, read } = samples[0]!;
    const whole = samples[1];
    if (expected !== null && rows !== null) {
      checks.push({ name: 'stored = acknowledged', ok: rows === expected, detail: `${formatCount(rows)} rows, ${formatCount(expected)} acknowledged` });
    }
    const elapsed = Math.min(...times);
    const failed = checks.filter((c) => !c.ok);
    const diagnosis = failed.length > 0 ? await target.diagnose?.() : undefined;
    return {
      figures: {
        rate: perSecond(read, elapsed),
        median: perSecond(read, median(times)),
        read,
        cpuRate: perSecond(read, Math.min(...cpuTimes)),
        ...(whole && { wholeRate: perSecond(whole.read, Math.min(...whole.times)), wholeCpuRate: perSecond(whole.read, Math.min(...whole.cpuTimes)) }),
      },
      checks,
      eventsWritten: filled,
      notes: [...retryNote(retries), ...(diagnosis ? [diagnosis] : [])],
      countUncertain: retries.count > 0,
      ...(failed.length > 0 ? { failure: failed.map((c) => `${c.name}: ${c.detail}`).join('; ') } : {}),
    };
  },
};

/**
 * Counts the distinct events of one read. Positions (numbers or BigInts) must rise strictly: one
 * that does not is counted as a repeat, so a reader that hands an event out twice, or out of log
 * order, fails the check. Keys of any other kind (string ids) go into a Set.
 */
class DistinctEvents {
  #last: number | bigint | undefined;
  #repeats = 0;
  #count = 0;
  readonly #ids = new Set<unknown>();

  see(key: unknown): void {
    if (typeof key === 'number' || typeof key === 'bigint') {
      if (this.#last !== undefined && !(key > this.#last)) this.#repeats++;
      else this.#last = key;
      this.#count++;
    } else {
      this.#ids.add(key);
    }
  }

  get size(): number {
    return this.#count - this.#repeats + this.#ids.size;
  }
}
