/**
 * Runs every workload of one backend against all its targets, side by side: for each workload,
 * each target in turn (anchor, Eventloom, peer), so all of them meet the same machine load.
 * Every run is bounded by the workload's time limit; a target that fails or stalls is recorded
 * with the reason and the run goes on.
 */
import type { Sizes } from '../sizes.js';
import type { Backend, TargetDescriptor } from '../target.js';
import { workloadsOf } from '../workloads/index.js';
import type { Workload } from '../workloads/types.js';
import { errorText } from '../workloads/helpers.js';
import type { BackendRun, Cell, WorkloadRun } from '../report/model.js';
import { formatFigure } from '../report/format.js';
import { median } from '../stats.js';
import { formatCell } from '../report/table.js';
import { openResources, runTag, type BackendResources } from './resources.js';
import { TargetProcess, TimeoutError } from './target-process.js';

export interface RunOptions {
  readonly sizes: Sizes;
  readonly quick: boolean;
  readonly targets: readonly TargetDescriptor[];
  readonly workloads?: readonly string[];
  /** Overrides every workload's time limit. */
  readonly timeoutMs?: number;
  /** Extra node flags for the workers, e.g. `--cpu-prof`. */
  readonly workerExecArgv: readonly string[];
  readonly setting: string;
  readonly log: (line: string) => void;
}

interface Slot {
  readonly descriptor: TargetDescriptor;
  worker?: TargetProcess;
  /** Why the target cannot run at all (its package is missing, say); set once, never retried. */
  unavailable?: string;
  /** Events acknowledged so far, or null once a cut-short workload made the count uncertain. */
  events: number | null;
}

const OPEN_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 30_000;
/** Smoke sizes finish in seconds; a target still busy after this is stuck. */
const QUICK_TIMEOUT_MS = 60_000;

export async function runBackend(backend: Backend, options: RunOptions): Promise<BackendRun> {
  const startedAt = new Date().toISOString();
  const { log } = options;
  let resources: BackendResources;
  try {
    resources = await openResources(backend, runTag(), options.targets);
  } catch (error) {
    const reason = `could not prepare ${backend}: ${errorText(error)}`;
    log(`[${backend}] SKIPPED — ${reason}`);
    return { backend, setting: options.setting, quick: options.quick, sizes: options.sizes, startedAt, finishedAt: startedAt, targets: options.targets, workloads: [], skipped: reason };
  }
  const slots: Slot[] = options.targets.map((descriptor) => ({ descriptor, events: 0 }));
  const runs: WorkloadRun[] = [];
  // Interrupted, the run still removes what it made: workers first, then their files or schemas.
  const onInterrupt = (): void => {
    log(`[${backend}] interrupted: removing this run's data`);
    for (const slot of slots) slot.worker?.kill();
    void resources.cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  try {
    const workloads = workloadsOf(backend).filter((w) => !options.workloads || options.workloads.includes(w.id));
    for (const workload of workloads) {
      const title = workload.title(options.sizes);
      log(`[${backend}] ${workload.id} ${title}`);
      const passes = workload.passes ?? 1;
      const running = slots.filter(
        (slot) => (!workload.roles || workload.roles.includes(slot.descriptor.role)) && (!slot.descriptor.workloads || slot.descriptor.workloads.includes(workload.id)),
      );
      const byTarget = new Map<Slot, Cell[]>(running.map((slot) => [slot, []]));
      for (let pass = 0; pass < passes; pass++) {
        for (const slot of pass % 2 === 0 ? running : [...running].reverse()) {
          const label = passes > 1 ? `${slot.descriptor.id} #${pass + 1}` : slot.descriptor.id;
          const started = Date.now();
          const ticker = setInterval(() => log(`    ${label}: still running (${Math.round((Date.now() - started) / 1000)} s)`), 15_000);
          const cell = await runCell(slot, workload, resources, options, pass).finally(() => clearInterval(ticker));
          byTarget.get(slot)!.push(cell);
          log(`  ${label.padEnd(22)} ${formatCell(workload, cell)}`);
        }
      }
      const cells = running.map((slot) => bestOf(workload, byTarget.get(slot)!));
      runs.push({ workload: workload.id, title, primary: workload.primary, secondary: workload.secondary ?? [], cells });
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    for (const slot of slots) await closeSlot(slot);
    await resources.cleanup().catch((error: unknown) => log(`[${backend}] cleanup failed: ${errorText(error)}`));
  }
  return { backend, setting: options.setting, quick: options.quick, sizes: options.sizes, startedAt, finishedAt: new Date().toISOString(), targets: options.targets, workloads: runs };
}

async function runCell(slot: Slot, workload: Workload, resources: BackendResources, options: RunOptions, pass: number): Promise<Cell> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const opened = await ensureOpen(slot, resources, options);
  if (opened !== true) return { target: slot.descriptor.id, status: slot.unavailable ? 'unavailable' : 'failed', reason: opened, elapsedMs: 0 };
  const worker = slot.worker!;
  const timeoutMs = options.timeoutMs ?? (options.quick ? QUICK_TIMEOUT_MS : workload.timeoutMs(options.sizes));
  try {
    const reply = await worker.request(
      { kind: 'run', workload: workload.id, sizes: options.sizes, pass, eventsBefore: slot.events },
      timeoutMs,
      (text) => options.log(`    ${slot.descriptor.id}: ${text}`),
    );
    if (reply.kind === 'done') {
      const { output } = reply;
      slot.events = output.failure || output.countUncertain || slot.events === null ? null : slot.events + output.eventsWritten;
      return output.failure
        ? { target: slot.descriptor.id, status: 'failed', reason: output.failure, output, elapsedMs: elapsed() }
        : { target: slot.descriptor.id, status: 'ok', output, elapsedMs: elapsed() };
    }
    slot.events = null;
    const reason = reply.kind === 'error' ? reply.message : `unexpected reply ${reply.kind}`;
    return { target: slot.descriptor.id, status: 'failed', reason: withLog(reason, worker), elapsedMs: elapsed() };
  } catch (error) {
    // The worker is stuck or gone: end it; the next workload starts a fresh one on the same data.
    slot.events = null;
    worker.kill();
    slot.worker = undefined;
    const status = error instanceof TimeoutError ? 'timeout' : 'failed';
    return { target: slot.descriptor.id, status, reason: withLog(errorText(error), worker), elapsedMs: elapsed() };
  }
}

/** The better of a target's passes; a pass that failed is the result, since failing is what it did. */
function bestOf(workload: Workload, cells: readonly Cell[]): Cell {
  const failed = cells.find((c) => c.status !== 'ok');
  if (failed || cells.length === 1) return failed ?? cells[0]!;
  const value = (c: Cell): number => c.output?.figures[workload.primary.key] ?? Number.NaN;
  const sign = workload.primary.better === 'higher' ? 1 : -1;
  const best = cells.reduce((a, b) => (sign * value(b) > sign * value(a) ? b : a));
  const note = `best of ${cells.length} passes: ${cells.map((c) => formatFigure(value(c))).join(' / ')}`;
  const figures = { ...best.output!.figures, median: median(cells.map(value)) };
  return { ...best, output: { ...best.output!, figures, notes: [...(best.output!.notes ?? []), note] } };
}

/** Starts the target's worker if none is running; returns true, or the reason it cannot run. */
async function ensureOpen(slot: Slot, resources: BackendResources, options: RunOptions): Promise<true | string> {
  if (slot.unavailable) return slot.unavailable;
  if (slot.worker?.alive) return true;
  const worker = new TargetProcess(options.workerExecArgv);
  try {
    const reply = await worker.request({ kind: 'open', descriptor: slot.descriptor, resource: resources.resourceFor(slot.descriptor) }, OPEN_TIMEOUT_MS);
    if (reply.kind === 'opened') {
      slot.worker = worker;
      return true;
    }
    const reason = reply.kind === 'error' ? reply.message : `unexpected reply ${reply.kind}`;
    // A package that is not there (yet) will not appear mid-run: say so once for every workload.
    if (/Cannot find (module|package)|does not provide an export/.test(reason)) slot.unavailable = reason;
    worker.kill();
    return withLog(reason, worker);
  } catch (error) {
    worker.kill();
    return withLog(`opening failed: ${errorText(error)}`, worker);
  }
}

async function closeSlot(slot: Slot): Promise<void> {
  const worker = slot.worker;
  slot.worker = undefined;
  if (!worker?.alive) return;
  try {
    await worker.request({ kind: 'close' }, CLOSE_TIMEOUT_MS);
  } catch {
    // A target that cannot close cleanly is ended; its data is removed with the run's resources.
  }
  await worker.exited();
}

function withLog(reason: string, worker: TargetProcess): string {
  const log = worker.lastLog(2);
  return log && !reason.includes(log) ? `${reason} (worker log: ${log})` : reason;
}
