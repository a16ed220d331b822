/** Pieces several workloads share. */
import { orderCreated } from '../payload.js';
import type { AppendOutcome, BenchEventInput, BenchTarget, Expectation } from '../target.js';

/** Errors an append threw before it went through on a retry; their appends may or may not have landed. */
export interface RetryLog {
  count: number;
  first?: string;
}

const ATTEMPTS = 3;

/**
 * Appends like a careful caller: an error (not a conflict) is retried, up to three attempts in
 * all, and logged. The time spent retrying is part of whatever the caller measures.
 */
export async function appendRetrying(
  target: BenchTarget,
  streamId: string,
  events: readonly BenchEventInput[],
  expectation: Expectation,
  log: RetryLog,
): Promise<AppendOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await target.append(streamId, events, expectation);
    } catch (error) {
      log.count++;
      log.first ??= errorText(error);
      if (attempt === ATTEMPTS) throw error;
    }
  }
}

export function retryNote(log: RetryLog): string[] {
  return log.count > 0 ? [`${log.count} append errors retried (first: ${log.first})`] : [];
}

/** Appends to throwaway streams before timing starts, so statement caches and JIT are warm for everyone alike. */
export async function warmUp(target: BenchTarget, prefix: string, log: RetryLog, count = 50): Promise<number> {
  for (let i = 0; i < count; i++) {
    const outcome = await appendRetrying(target, `warm-${prefix}-${i}`, [orderCreated(i)], { kind: 'no_stream' }, log);
    if (!outcome.ok) throw new Error(`warm-up append to new stream warm-${prefix}-${i} reported a conflict`);
  }
  return count;
}

export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 200);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A `process.cpuUsage(start)` difference in milliseconds (user + system). */
export function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}
