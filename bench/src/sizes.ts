/** How big each workload is: the sizes, and small ones for a smoke run (`--quick`). */

export interface Sizes {
  /** W1: sequential single-event appends, each to a new stream. */
  readonly sequentialAppends: number;
  /** W2: appends of `batchEvents` events each, each to a new stream. */
  readonly batchAppends: number;
  readonly batchEvents: number;
  /** W3: writers, each appending single events to its own stream. */
  readonly concurrentWriters: number;
  readonly appendsPerWriter: number;
  /** W4: writers on one stream, until this many appends succeeded in all. */
  readonly contendingWriters: number;
  readonly contendedSuccesses: number;
  /** W4 stops here even if short of its goal, so a store that keeps failing is measured, not waited for. */
  readonly contendedBudgetMs: number;
  /** W5: events in the stream that is read and folded; the read is repeated and the fastest kept. */
  readonly foldEvents: number;
  readonly foldRepeats: number;
  /** W6: the log is filled up to this many events before it is read whole. */
  readonly logEvents: number;
  readonly logBatchSize: number;
  /** W6: the whole log is read this many times; every read is checked, the fastest counts. */
  readonly logReads: number;
  /** W7: appends whose delivery to a live subscriber is timed. */
  readonly liveAppends: number;
}

export const FULL: Sizes = {
  sequentialAppends: 5_000,
  batchAppends: 200,
  batchEvents: 100,
  concurrentWriters: 16,
  appendsPerWriter: 500,
  contendingWriters: 8,
  contendedSuccesses: 1_000,
  contendedBudgetMs: 90_000,
  foldEvents: 10_000,
  foldRepeats: 5,
  logEvents: 100_000,
  logBatchSize: 1_000,
  logReads: 3,
  liveAppends: 300,
};

export const QUICK: Sizes = {
  sequentialAppends: 300,
  batchAppends: 20,
  batchEvents: 100,
  concurrentWriters: 16,
  appendsPerWriter: 20,
  contendingWriters: 8,
  contendedSuccesses: 60,
  contendedBudgetMs: 15_000,
  foldEvents: 1_000,
  foldRepeats: 2,
  logEvents: 5_000,
  logBatchSize: 1_000,
  logReads: 2,
  liveAppends: 30,
};
