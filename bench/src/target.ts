/** The one interface every benchmarked store is driven through, so each workload is written once. */

export type Backend = 'sqlite' | 'postgres';

/**
 * Anchor: the raw driver doing the same inserts. Floor: the raw driver doing the least the
 * workload needs. Subject: Eventloom. Peer: another library (Emmett).
 */
export type TargetRole = 'subject' | 'anchor' | 'floor' | 'peer';

/** What an append expects of its stream; each target maps it onto its own API. */
export type Expectation =
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'version'; readonly version: bigint }
  | { readonly kind: 'any' };

/** An event as the workloads hand it to a target: ids are left to the target, as its users would. */
export interface BenchEventInput {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

export type AppendOutcome =
  | { readonly ok: true; readonly nextVersion: bigint }
  | { readonly ok: false; readonly conflict: true };

/**
 * What the workloads look at of a read event. Field names are the envelope's, so Eventloom's
 * recorded events pass through as they are; the other targets build objects with the whole
 * envelope, as a store's reader must.
 */
export interface ReadEvent {
  readonly id: string;
  readonly streamId: string;
  readonly streamVersion: bigint;
  readonly position: bigint;
  readonly type: string;
  readonly data: unknown;
}

/** What W5's fold looks at: an aggregate load's view of an event (its type and data). */
export type FoldEvent = Pick<ReadEvent, 'type' | 'data'>;

/** What W6 looks at: the position and data (what the floor delivers) and the id (its exactly-once check). */
/** W6's narrow read: what the floor delivers, the position (W6's distinct check counts positions) and the data. */
export type ScanEvent = Pick<ReadEvent, 'position' | 'data'>;

export interface LiveSubscription {
  stop(): Promise<void>;
}

/** Where a target keeps its data; the parent process creates it and removes it after the run. */
export type TargetResource =
  | { readonly backend: 'sqlite'; readonly filename: string }
  | { readonly backend: 'postgres'; readonly connectionString: string; readonly schema: string; readonly poolSize: number };

export interface InlineProjection {
  /** Documents the projection has written, read back from its read model. */
  documents(): Promise<number>;
  /** Appends since registration whose result said the projection did not apply, and the first reason given. */
  skipped(): { readonly count: number; readonly first?: string };
  remove(): Promise<void>;
}

/** W8: process A's side of cross-process read-your-writes, with process B running the projection. */
export interface ReadYourWrites {
  /** Appends an order to the new stream `streamId`, waits on the read-model store for it, reads its document: whether it was there. */
  appendAndRead(streamId: string, n: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface BenchTarget {
  /**
   * Appends `events` to `streamId`. A failed expectation resolves to `{ ok: false }`; any other
   * failure rejects.
   */
  append(streamId: string, events: readonly BenchEventInput[], expectation: Expectation, inspect?: (result: unknown) => void): Promise<AppendOutcome>;
  /**
   * The stream's version as a writer learns it after a conflict, through the store's ordinary
   * read path. `known` is the last version this writer saw, so a store without a cheap head
   * lookup reads only what came after it.
   */
  currentVersion(streamId: string, known: bigint): Promise<bigint>;
  /** The stream head as the store records it (its streams table or stream info), to compare with its last event. */
  recordedHead(streamId: string): Promise<bigint>;
  /** Every event of the stream, in order. */
  readStream(streamId: string, visit: (event: ReadEvent) => void): Promise<void>;
  /** The whole log from the start, in the store's log order, `batchSize` events per round trip. */
  readAll(batchSize: number, visit: (event: ReadEvent) => void): Promise<void>;
  /**
   * W5's read, where it differs from `readStream`: what loading an aggregate reads (Eventloom:
   * the fields `loadState` asks for; a raw anchor: the same columns). W5 then also times
   * `readStream`, reported as the whole-envelope figure.
   */
  foldStream?(streamId: string, visit: (event: FoldEvent) => void): Promise<void>;
  /** W6's read, where it differs from `readAll`: only what W6 looks at; W6 then also times `readAll` (whole envelope). */
  scanLog?(batchSize: number, visit: (event: ScanEvent) => void): Promise<void>;
  /** Rows in the store's events table, counted behind its back: the truth a reader is checked against. */
  countEvents?(): Promise<number>;
  /** Calls `onEvent` for every event appended from now on, as soon as the store delivers it. */
  subscribeLive?(onEvent: (event: ReadEvent) => void): Promise<LiveSubscription>;
  /**
   * Opens a transaction that has written something, in another database of the same server, and
   * keeps it open (idle) until the returned function is called: unrelated work elsewhere.
   */
  holdUnrelatedTransaction?(): Promise<() => Promise<void>>;
  /**
   * Registers an inline projection (one summary per order) on the store, until removed: rows by
   * plain SQL, or (`documents`) documents by the read-model API, where the target has both.
   */
  addInlineProjection?(writes?: 'sql' | 'documents'): Promise<InlineProjection>;
  /** Starts another process running a projection on this store, for W8. */
  readYourWrites?(): Promise<ReadYourWrites>;
  /** Whatever outside the target may explain a failure, e.g. another session's old open transaction. */
  diagnose?(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface TargetDescriptor {
  readonly id: string;
  readonly backend: Backend;
  readonly role: TargetRole;
  /** How the table names it, e.g. `raw better-sqlite3`. */
  readonly label: string;
  /** Module (relative to this folder) whose `open(resource)` returns the target; loaded in the worker only. */
  readonly module: string;
  /** Only these workloads run it (a floor has no streams table, so no W1/W3/W4); default: every workload. */
  readonly workloads?: readonly string[];
}

/** What a target module exports. */
export type OpenTarget = (resource: TargetResource) => Promise<BenchTarget>;
