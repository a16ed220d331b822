/** Progress reports and the terminal bar. */
import { formatProgress, progressBar, type ProjectionProgress } from '@eventloom/core';
import { projectionNamespace } from '@eventloom/core/adapter';
// The tracker is the runner's own; it is tested here, not exported.
import { ProgressTracker } from '../../src/projections/progress.js';
import { describe, expect, it } from 'vitest';

const projection = projectionNamespace('order-summary', 2);

describe('progress', () => {
  it('counts events read, and estimates the total and ETA from how far through the positions the run is', () => {
    let now = 1_000;
    const tracker = new ProgressTracker(projection, 100n, () => now);
    now += 500;
    const half = tracker.report(600n, 1_100n, false, 500);
    expect(half).toMatchObject({ processed: 500, total: 1_000, eventsPerSecond: 1_000, etaSeconds: 0.5, elapsedMs: 500, done: false });
    now += 500;
    expect(tracker.report(1_100n, 1_100n, true, 500)).toMatchObject({ processed: 1_000, total: 1_000, etaSeconds: 0, done: true });
    expect(new ProgressTracker(projection, null, () => 0).report(null, 10n, false).etaSeconds).toBeNull();
  });

  it('counts events, not positions, where positions are sparse (PostgreSQL)', () => {
    let now = 0;
    const step = 1n << 20n; // one transaction's worth of positions
    const tracker = new ProgressTracker(projection, null, () => now);
    now += 100;
    const quarter = tracker.report(250n * step, 1_000n * step, false, 25);
    expect(quarter).toMatchObject({ processed: 25, total: 100, eventsPerSecond: 250 });
    expect(quarter.etaSeconds).toBeCloseTo(0.3);
    now += 300;
    expect(tracker.report(1_000n * step, 1_000n * step, true, 75)).toMatchObject({ processed: 100, total: 100, done: true });
  });

  it('formats a bar with counts, rate and ETA', () => {
    const progress: ProjectionProgress = {
      projection,
      processed: 45_000,
      total: 100_000,
      position: 45_000n,
      head: 100_000n,
      elapsedMs: 375,
      eventsPerSecond: 120_000,
      etaSeconds: 0.458,
      done: false,
    };
    expect(formatProgress(progress, 20)).toBe('order-summary@2 [#########-----------]  45% 45,000/100,000 · 120,000 ev/s · ETA 0.5 s');
    expect(formatProgress({ ...progress, processed: 100_000, etaSeconds: 0, done: true, elapsedMs: 125_000 }, 4)).toBe(
      'order-summary@2 [####] 100% 100,000/100,000 · 120,000 ev/s · done in 2 min 5 s',
    );
    expect(formatProgress({ ...progress, processed: 0, total: 0, etaSeconds: null }, 4)).toContain('[####] 100%');
  });

  it('redraws in place on a terminal, at most once per interval, and always the last report', () => {
    const written: string[] = [];
    const bar = progressBar({ stream: { isTTY: true, write: (chunk) => written.push(chunk) }, intervalMs: 60_000, width: 4 });
    const report = (processed: number, done: boolean): ProjectionProgress => ({
      projection,
      processed,
      total: 10,
      position: BigInt(processed),
      head: 10n,
      elapsedMs: 10,
      eventsPerSecond: 1,
      etaSeconds: done ? 0 : 1,
      done,
    });
    bar(report(1, false));
    bar(report(5, false));
    bar(report(10, true));
    expect(written).toHaveLength(2);
    expect(written[0]).toMatch(/^\r\x1b\[2Korder-summary@2 \[----\]  10%/);
    expect(written[1]).toMatch(/100% 10\/10 .* done in 0\.0 s\n$/);

    const lines: string[] = [];
    const plain = progressBar({ stream: { write: (chunk) => lines.push(chunk) }, intervalMs: 0 });
    plain(report(3, false));
    expect(lines[0]).toMatch(/^order-summary@2 .*30%.*\n$/);
  });
});
