/**
 * The `ReadModelStore` contract: where projections keep their read models, their checkpoints
 * (written in the same transaction as the read model, so a crash can neither skip nor
 * double-apply an event), which version of each projection is serving, failures, dead letters
 * and the lease that keeps one runner per projection active across processes.
 */
import type { Position } from '../envelope/event.js';
import type { CollectionDefinition, CollectionRef } from './collection.js';
import type { DocumentCollection, DocumentReader } from './documents.js';
import type { ProjectionNamespace } from './namespace.js';
import type { JsonObject } from './query.js';
import type { ReadTarget } from './read-target.js';

/**
 * What a projection's handlers get, on every store: the documents of the projection version's
 * own namespace. A store's extras (SQLite's `db`, PostgreSQL's `client`) live on an extended handle.
 * Handlers may destructure it (`async (event, { collection }) => …`): stores must not rely on `this`.
 */
export interface ProjectionHandle {
  readonly projection: ProjectionNamespace;
  /** The documents of a declared collection (typed by its declaration), or of collection `name` as `T`. */
  collection<T extends object = JsonObject>(collection: CollectionRef<T>): DocumentCollection<T>;
}

/** What readers get, on every store: the documents of the version that is serving (or the one asked for). */
export interface ReadModelView {
  readonly projection: ProjectionNamespace;
  collection<T extends object = JsonObject>(collection: CollectionRef<T>): DocumentReader<T>;
}

/** @deprecated One handle type serves every store now: use `ProjectionHandle`. */
export type ProjectionHandleBase = ProjectionHandle;
/** @deprecated Use `ReadModelView`. */
export type ReadModelViewBase = ReadModelView;

/** A handler failure that stopped a projection, kept until the event is applied. */
export interface ProjectionFailure {
  readonly position: Position;
  readonly eventId: string;
  readonly eventType: string;
  readonly streamId: string;
  /** `name: message` of the error the handler threw the last time. */
  readonly error: string;
  readonly stack: string | null;
  readonly attempts: number;
  /** ISO time of the last attempt. */
  readonly failedAt: string;
}

/** Bookkeeping of one projection version. */
export interface ProjectionState {
  readonly projection: ProjectionNamespace;
  /** Everything up to here is applied (or was not for this projection); `null` before the first event. */
  readonly checkpoint: Position | null;
  readonly failure: ProjectionFailure | null;
  /** ISO time of the last change. */
  readonly updatedAt: string;
}

/** An event a projection gave up on under the `dead-letter` policy, with why. */
export interface ProjectionDeadLetter {
  readonly projection: ProjectionNamespace;
  readonly position: Position;
  readonly eventId: string;
  readonly eventType: string;
  readonly streamId: string;
  readonly error: string;
  readonly attempts: number;
  /** ISO time it was recorded. */
  readonly recordedAt: string;
}

/**
 * One read-model transaction; everything done through it commits together or not at all. Every
 * method answers with a promise, on every store.
 */
export interface ReadModelTransaction<H extends ProjectionHandle = ProjectionHandle> {
  /** The handle handlers of `projection` write through. */
  handle(projection: ProjectionNamespace): H;
  /** The projection version's bookkeeping, or `null` when it has never run. */
  getState(namespace: string): Promise<ProjectionState | null>;
  /** Creates the bookkeeping of a fresh projection version (checkpoint `null`, no failure). */
  createState(projection: ProjectionNamespace): Promise<void>;
  getCheckpoint(namespace: string): Promise<Position | null>;
  setCheckpoint(namespace: string, position: Position): Promise<void>;
  setFailure(namespace: string, failure: ProjectionFailure | null): Promise<void>;
  addDeadLetter(deadLetter: ProjectionDeadLetter): Promise<void>;
  /** The version of `name` that readers see, or `null` when none serves yet. */
  getActiveVersion(name: string): Promise<number | null>;
  setActiveVersion(name: string, version: number): Promise<void>;
  /**
   * Creates the declared indexes of `collections` in the namespace of `projection` where they do
   * not exist yet (idempotent; run each time a version is prepared). Stores without indexes
   * (memory) only validate.
   */
  prepareCollections(projection: ProjectionNamespace, collections: readonly CollectionDefinition<object>[]): Promise<void>;
  /** Removes the namespace's documents, indexes, tables and bookkeeping (dead letters stay). */
  dropNamespace(namespace: string): Promise<void>;
}

export interface TransactionOptions {
  /** `fn` only reads. Default false. */
  readonly readOnly?: boolean;
  /**
   * How document writes (`upsert`, `update`, `delete`) reach storage. `true`: the store may hold
   * them back and send them together — before a query (`find`, `findPage`, `count`) of their
   * collection and at commit — while `get` and `update` still see them; a write storage refuses
   * then fails that later call or the commit, not the call that made it. `false`: each reaches
   * storage before its call resolves, so its failure is its caller's. Plain SQL on the documents'
   * table sees held-back writes only once they are sent. Default: the store's own (SQLite holds
   * them back, PostgreSQL sends each). The projection runner asks for `true` for its batches and
   * applies a failed batch again with `false`, so a failure is pinned on the event that caused it.
   */
  readonly batchWrites?: boolean;
}

export interface WaitForPositionOptions {
  /** Give up after this long with ProjectionWaitTimeoutError. Default 30 s. */
  readonly timeoutMs?: number;
  /** Stop waiting when it aborts; the wait rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * What a failure on record at or before `position` does: `'reject'` (default) rejects with
   * SubscriptionFailedError at once; `'wait'` waits on, for a caller that knows the projection is
   * being retried (a runner that has just restarted it).
   */
  readonly whileFailed?: 'reject' | 'wait';
}

export interface ReadModelStore<H extends ProjectionHandle = ProjectionHandle, V extends ReadModelView = ReadModelView> {
  /**
   * Whether a runner catching up should read the next page of events while this store applies a
   * batch: true where a transaction mostly waits for a server (PostgreSQL), so the read fills
   * that wait; absent or false where a transaction is work on this thread (SQLite, memory), where
   * reading ahead only adds to it (and keeps two pages alive).
   */
  readonly readAhead?: boolean;
  /**
   * Runs `fn` in one transaction: all it wrote commits, or, when it throws (or rejects), nothing
   * does. `fn` may await anything; on stores with one connection other transactions wait.
   * `readOnly` promises that `fn` only reads, so it need not wait for other writers.
   */
  transaction<R>(fn: (tx: ReadModelTransaction<H>) => Promise<R> | R, options?: TransactionOptions): Promise<R>;
  /**
   * Runs `fn` against the serving version of projection `name` (or the given version).
   * @throws InvalidArgumentError when no version of it serves yet
   */
  read<R>(projection: ReadTarget, fn: (view: V) => Promise<R> | R): Promise<R>;
  /**
   * Resolves once the serving version of `projection` (or the given version) has applied
   * everything up to `position` — typically what an append returned — whichever process runs it.
   * Woken by the runners' commits, not by polling where the store can be told (in-process,
   * LISTEN/NOTIFY). Waits while no version serves yet.
   * @throws ProjectionWaitTimeoutError after `timeoutMs`
   * @throws SubscriptionFailedError when the projection is stopped on a failure at or before `position`
   */
  waitForPosition(projection: ReadTarget, position: Position, options?: WaitForPositionOptions): Promise<void>;
  /**
   * Takes or renews the lease `key` for `owner` until `ttlMs` from now. Returns false when another
   * owner holds an unexpired lease.
   */
  tryAcquireLease(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` holds it. */
  releaseLease(key: string, owner: string): Promise<void>;
  /** Every projection version known to the store, with the version serving each name. */
  listProjections(): Promise<readonly (ProjectionState & { readonly active: boolean })[]>;
  deadLetters(namespace?: string): Promise<readonly ProjectionDeadLetter[]>;
  close(): Promise<void>;
}
