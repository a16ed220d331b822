/**
 * Progress of a projection catching up (a rebuild, a blue/green build, a replay): how far, how
 * fast, how long to go — as API events and as a one-line bar for terminals.
 */
import type { Position } from '../envelope/event.js';
import type { ProjectionNamespace } from './namespace.js';

export interface ProjectionProgress {
  readonly projection: ProjectionNamespace;
  /** Events read since the run started (handled or not). */
  readonly processed: number;
  /**
   * Events from the start of the run to the head of the log as last seen. Exact when the run is
   * done; before that an estimate from how far through the log's positions the run is (positions
   * may be sparse, as on PostgreSQL, so they are not counted directly).
   */
  readonly total: number;
  readonly position: Position;
  readonly head: Position;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
  /** Seconds left at the current rate; `null` before a rate is known. */
  readonly etaSeconds: number | null;
  /** True on the last report of the run: the projection has caught up. */
  readonly done: boolean;
}

/** Turns checkpoint moves into progress reports for one run. */
export class ProgressTracker {
  readonly #projection: ProjectionNamespace;
  readonly #start: Position;
  readonly #startedAt: number;
  readonly #now: () => number;
  #processed = 0;

  constructor(projection: ProjectionNamespace, start: Position | null, now: () => number = () => performance.now()) {
    this.#projection = projection;
    this.#start = start ?? 0n;
    this.#now = now;
    this.#startedAt = now();
  }

  /** `eventsRead`: events read since the previous report. */
  report(position: Position | null, head: Position, done: boolean, eventsRead = 0): ProjectionProgress {
    this.#processed += eventsRead;
    const processed = this.#processed;
    const at = position ?? this.#start;
    const elapsedMs = Math.max(0, this.#now() - this.#startedAt);
    const span = Number(head - this.#start);
    const fraction = done || span <= 0 ? 1 : Math.min(1, Math.max(0, Number(at - this.#start) / span));
    const total = done ? processed : fraction > 0 ? Math.max(processed, Math.round(processed / fraction)) : processed;
    const eventsPerSecond = elapsedMs > 0 ? (processed * 1000) / elapsedMs : 0;
    const etaSeconds = done || fraction >= 1 ? 0 : fraction > 0 && elapsedMs > 0 ? ((1 - fraction) * elapsedMs) / fraction / 1000 : null;
    return { projection: this.#projection, processed, total, position: at, head, elapsedMs, eventsPerSecond, etaSeconds, done };
  }
}

/** `order-summary@2 [#########-----------] 45% 45,000/100,000 · 120,000 ev/s · ETA 0.5 s` */
export function formatProgress(progress: ProjectionProgress, width = 24): string {
  const ratio = progress.total === 0 ? 1 : Math.min(1, progress.processed / progress.total);
  const filled = Math.round(ratio * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  const counts = `${progress.processed.toLocaleString('en-US')}/${progress.total.toLocaleString('en-US')}`;
  const rate = `${Math.round(progress.eventsPerSecond).toLocaleString('en-US')} ev/s`;
  const tail = progress.done ? `done in ${formatSeconds(progress.elapsedMs / 1000)}` : `ETA ${progress.etaSeconds === null ? '?' : formatSeconds(progress.etaSeconds)}`;
  return `${progress.projection.namespace} [${bar}] ${percent} ${counts} · ${rate} · ${tail}`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export interface ProgressBarOptions {
  /** Default `process.stderr`. */
  readonly stream?: { write(chunk: string): unknown; readonly isTTY?: boolean };
  readonly width?: number;
  /** Least time between two redraws (the final one always draws). Default 100 ms. */
  readonly intervalMs?: number;
}

/**
 * A progress listener that draws one bar per projection on a terminal, redrawn in place; on a
 * stream that is not a terminal it writes a line per redraw instead.
 *
 * @example
 * await runner.rebuild('order-summary', { onProgress: progressBar() });
 */
export function progressBar(options: ProgressBarOptions = {}): (progress: ProjectionProgress) => void {
  const stream = options.stream ?? process.stderr;
  const intervalMs = options.intervalMs ?? 100;
  const lastDrawn = new Map<string, number>();
  return (progress) => {
    const now = performance.now();
    const key = progress.projection.namespace;
    const last = lastDrawn.get(key);
    if (!progress.done && last !== undefined && now - last < intervalMs) return;
    lastDrawn.set(key, now);
    const line = formatProgress(progress, options.width);
    if (stream.isTTY) stream.write(`\r\x1b[2K${line}${progress.done ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  };
}
