/**
 * The `ReadModelStore` contract: where projections keep their read models, their checkpoints
 * (written in the same transaction as the read model, so a crash can neither skip nor
 * double-apply an event), which version of each projection is serving, failures, dead letters
 * and the lease that keeps one runner per projection active across processes.
 */
import type { Position } from '../event.js';
import type { DocumentCollection, DocumentCollectionLike, DocumentReader, DocumentReaderLike } from './documents.js';
import type { MaybePromise } from './maybe-promise.js';
import type { ProjectionNamespace } from './namespace.js';

/**
 * What every store's handle has: documents of the projection's own namespace, answered plainly
 * (memory, SQLite) or with promises (PostgreSQL). Handlers meant for any store are typed by it.
 */
export interface ProjectionHandleBase {
  readonly projection: ProjectionNamespace;
  /**
   * The documents of collection `name`. `typeOnly` is never passed: it lets TypeScript match this
   * method across the synchronous and asynchronous handles (their common base is generic in `T`).
   */
  collection<T extends object>(name: string, ...typeOnly: T[]): DocumentCollectionLike<T>;
}

/** What every store's readers get. */
export interface ReadModelViewBase {
  readonly projection: ProjectionNamespace;
  collection<T extends object>(name: string, ...typeOnly: T[]): DocumentReaderLike<T>;
}

/** What a projection's handlers get on a synchronous store: documents of the projection's own namespace. */
export interface ProjectionHandle extends ProjectionHandleBase {
  readonly projection: ProjectionNamespace;
  collection<T extends object>(name: string, ...typeOnly: T[]): DocumentCollection<T>;
}

/** What readers get on a synchronous store: documents of the version that is serving. */
export interface ReadModelView extends ReadModelViewBase {
  readonly projection: ProjectionNamespace;
  collection<T extends object>(name: string, ...typeOnly: T[]): DocumentReader<T>;
}

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
 * One read-model transaction. Methods return plain values on synchronous stores and promises on
 * asynchronous ones; everything done through it commits together or not at all.
 */
export interface ReadModelTransaction<H extends ProjectionHandleBase = ProjectionHandle> {
  /** The handle handlers of `projection` write through. */
  handle(projection: ProjectionNamespace): H;
  /** The projection version's bookkeeping, or `null` when it has never run. */
  getState(namespace: string): MaybePromise<ProjectionState | null>;
  /** Creates the bookkeeping of a fresh projection version (checkpoint `null`, no failure). */
  createState(projection: ProjectionNamespace): MaybePromise<void>;
  getCheckpoint(namespace: string): MaybePromise<Position | null>;
  setCheckpoint(namespace: string, position: Position): MaybePromise<void>;
  setFailure(namespace: string, failure: ProjectionFailure | null): MaybePromise<void>;
  addDeadLetter(deadLetter: ProjectionDeadLetter): MaybePromise<void>;
  /** The version of `name` that readers see, or `null` when none serves yet. */
  getActiveVersion(name: string): MaybePromise<number | null>;
  setActiveVersion(name: string, version: number): MaybePromise<void>;
  /** Removes the namespace's documents, tables and bookkeeping (dead letters stay). */
  dropNamespace(namespace: string): MaybePromise<void>;
}

export interface TransactionOptions {
  /** `fn` only reads. Default false. */
  readonly readOnly?: boolean;
}

export interface ReadModelStore<H extends ProjectionHandleBase = ProjectionHandle, V extends ReadModelViewBase = ReadModelView> {
  /**
   * True when handlers must finish synchronously (SQLite: the transaction cannot span an `await`);
   * a handler that returns a promise then fails with a message saying so.
   */
  readonly synchronous: boolean;
  /**
   * Runs `fn` in one transaction: all it wrote commits, or, when it throws, nothing does.
   * `readOnly` promises that `fn` only reads, so it need not wait for other writers.
   */
  transaction<R>(fn: (tx: ReadModelTransaction<H>) => MaybePromise<R>, options?: TransactionOptions): Promise<R>;
  /**
   * Runs `fn` against the serving version of projection `name` (or the given version).
   * @throws InvalidArgumentError when no version of it serves yet
   */
  read<R>(projection: string | { readonly name: string; readonly version?: number }, fn: (view: V) => MaybePromise<R>): Promise<R>;
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
