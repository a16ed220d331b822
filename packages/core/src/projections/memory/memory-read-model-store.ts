/**
 * The in-memory read-model store: the reference implementation of the contract and the store for
 * unit tests. Transactions run one at a time and keep an undo log, so a failed one leaves nothing.
 */
import { AppendSignal } from '../../append-signal.js';
import { InvalidArgumentError, StoreClosedError } from '../../errors.js';
import type { Position } from '../../event.js';
import { collectionName, type CollectionDefinition, type CollectionRef } from '../collection.js';
import { assertDocumentId, serializeDocument, type DocumentCollection } from '../documents.js';
import { projectionNamespace, type ProjectionNamespace } from '../namespace.js';
import { evaluateQuery, normalizeQuery, type NormalizedQuery } from '../query.js';
import type {
  ProjectionDeadLetter,
  ProjectionFailure,
  ProjectionHandle,
  ProjectionState,
  ReadModelStore,
  ReadModelTransaction,
  ReadModelView,
  WaitForPositionOptions,
} from '../read-model-store.js';
import { resolveReadTarget, type ReadTarget } from '../read-target.js';
import { waitForCheckpoint } from '../wait-for-position.js';

type Collections = Map<string, Map<string, string>>;

export interface MemoryReadModelStoreOptions {
  /** Where lease expiry and record times come from; tests pass a fake clock. */
  readonly clock?: () => Date;
}

export class MemoryReadModelStore implements ReadModelStore<ProjectionHandle, ReadModelView> {
  readonly #namespaces = new Map<string, Collections>();
  readonly #states = new Map<string, ProjectionState>();
  readonly #active = new Map<string, number>();
  readonly #leases = new Map<string, { owner: string; expiresAt: number }>();
  readonly #deadLetters: ProjectionDeadLetter[] = [];
  readonly #clock: () => Date;
  /** Told after each commit, so waiters look at their checkpoints again. */
  readonly #committed = new AppendSignal();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: MemoryReadModelStoreOptions = {}) {
    this.#clock = options.clock ?? (() => new Date());
  }

  transaction<R>(fn: (tx: ReadModelTransaction<ProjectionHandle>) => Promise<R> | R): Promise<R> {
    return this.#serialized(async () => {
      const tx = new MemoryTransaction(this.#namespaces, this.#states, this.#active, this.#deadLetters, this.#clock);
      try {
        const result = await fn(tx);
        tx.finish();
        if (tx.wrote) this.#committed.notify();
        return result;
      } catch (error) {
        tx.rollback();
        throw error;
      }
    });
  }

  read<R>(target: ReadTarget, fn: (view: ReadModelView) => Promise<R> | R): Promise<R> {
    return this.#serialized(async () => {
      const projection = resolveReadTarget(target, (name) => this.#active.get(name) ?? null);
      const tx = new MemoryTransaction(this.#namespaces, this.#states, this.#active, this.#deadLetters, this.#clock);
      try {
        return await fn(tx.view(projection));
      } finally {
        tx.finish();
      }
    });
  }

  waitForPosition(projection: ReadTarget, position: Position, options?: WaitForPositionOptions): Promise<void> {
    return waitForCheckpoint(projection, position, options, {
      pollIntervalMs: 1_000,
      changed: (ms, signal) => this.#committed.wait(ms, signal),
      read: async (name, version) => {
        this.#assertOpen();
        const serving = version ?? this.#active.get(name);
        if (serving === undefined) return { namespace: null, checkpoint: null, failure: null };
        const namespace = projectionNamespace(name, serving).namespace;
        const state = this.#states.get(namespace);
        return { namespace, checkpoint: state?.checkpoint ?? null, failure: state?.failure ?? null };
      },
    });
  }

  async tryAcquireLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertLeaseArguments(key, owner, ttlMs);
    const now = this.#clock().getTime();
    const current = this.#leases.get(key);
    if (current && current.owner !== owner && current.expiresAt > now) return false;
    this.#leases.set(key, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    this.#assertOpen();
    if (this.#leases.get(key)?.owner === owner) this.#leases.delete(key);
  }

  async listProjections(): Promise<readonly (ProjectionState & { readonly active: boolean })[]> {
    this.#assertOpen();
    return [...this.#states.values()]
      .map((state) => ({ ...state, active: this.#active.get(state.projection.name) === state.projection.version }))
      .sort((a, b) => a.projection.namespace.localeCompare(b.projection.namespace));
  }

  async deadLetters(namespace?: string): Promise<readonly ProjectionDeadLetter[]> {
    this.#assertOpen();
    return this.#deadLetters.filter((d) => namespace === undefined || d.projection.namespace === namespace);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#committed.notify();
  }

  #serialized<R>(fn: () => Promise<R>): Promise<R> {
    this.#assertOpen();
    const run = this.#queue.then(() => {
      this.#assertOpen();
      return fn();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('read-model store');
  }
}

export function assertLeaseArguments(key: string, owner: string, ttlMs: number): void {
  if (typeof key !== 'string' || key === '') throw new InvalidArgumentError('lease key', 'must be a non-empty string');
  if (typeof owner !== 'string' || owner === '') throw new InvalidArgumentError('lease owner', 'must be a non-empty string');
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new InvalidArgumentError('lease ttlMs', `must be a positive integer, got ${ttlMs}`);
}

class MemoryTransaction implements ReadModelTransaction<ProjectionHandle> {
  readonly #undo: (() => void)[] = [];
  #open = true;

  constructor(
    private readonly namespaces: Map<string, Collections>,
    private readonly states: Map<string, ProjectionState>,
    private readonly active: Map<string, number>,
    private readonly deadLetterList: ProjectionDeadLetter[],
    private readonly clock: () => Date,
  ) {}

  /** Whether anything was written (so waiters are told at commit). */
  get wrote(): boolean {
    return this.#undo.length > 0;
  }

  handle(projection: ProjectionNamespace): ProjectionHandle {
    // Arrow functions: handlers may destructure `{ collection }` from the handle.
    return { projection, collection: <T extends object>(ref: CollectionRef<T>) => this.#collection<T>(projection.namespace, ref) };
  }

  view(projection: ProjectionNamespace): ReadModelView {
    return { projection, collection: <T extends object>(ref: CollectionRef<T>) => this.#collection<T>(projection.namespace, ref, true) };
  }

  async getState(namespace: string): Promise<ProjectionState | null> {
    return this.#state(namespace);
  }

  async createState(projection: ProjectionNamespace): Promise<void> {
    this.#assertOpen();
    this.#setState(projection.namespace, { projection, checkpoint: null, failure: null, updatedAt: this.#now() });
  }

  async getCheckpoint(namespace: string): Promise<Position | null> {
    return this.#state(namespace)?.checkpoint ?? null;
  }

  async setCheckpoint(namespace: string, position: Position): Promise<void> {
    const state = this.#requireState(namespace);
    this.#setState(namespace, { ...state, checkpoint: position, updatedAt: this.#now() });
  }

  async setFailure(namespace: string, failure: ProjectionFailure | null): Promise<void> {
    const state = this.#requireState(namespace);
    this.#setState(namespace, { ...state, failure, updatedAt: this.#now() });
  }

  async addDeadLetter(deadLetter: ProjectionDeadLetter): Promise<void> {
    this.#assertOpen();
    this.deadLetterList.push(deadLetter);
    this.#undo.push(() => void this.deadLetterList.pop());
  }

  async getActiveVersion(name: string): Promise<number | null> {
    this.#assertOpen();
    return this.active.get(name) ?? null;
  }

  async setActiveVersion(name: string, version: number): Promise<void> {
    this.#assertOpen();
    projectionNamespace(name, version);
    const previous = this.active.get(name);
    this.active.set(name, version);
    this.#undo.push(() => (previous === undefined ? this.active.delete(name) : this.active.set(name, previous)));
  }

  async prepareCollections(projection: ProjectionNamespace, collections: readonly CollectionDefinition<object>[]): Promise<void> {
    this.#assertOpen();
    // Nothing to build in memory: queries scan. The names are checked as the other stores do.
    for (const collection of collections) collectionName(collection);
    void projection;
  }

  async dropNamespace(namespace: string): Promise<void> {
    this.#assertOpen();
    const collections = this.namespaces.get(namespace);
    const state = this.states.get(namespace);
    this.namespaces.delete(namespace);
    this.states.delete(namespace);
    this.#undo.push(() => {
      if (collections) this.namespaces.set(namespace, collections);
      if (state) this.states.set(namespace, state);
    });
  }

  finish(): void {
    this.#open = false;
  }

  rollback(): void {
    this.#open = false;
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]!();
  }

  #collection<T extends object>(namespace: string, ref: CollectionRef<T>, readOnly = false): DocumentCollection<T> {
    this.#assertOpen();
    const name = collectionName(ref);
    const documents = (): Map<string, string> | undefined => this.namespaces.get(namespace)?.get(name);
    const parse = (json: string): T => JSON.parse(json) as T;
    const run = (query: NormalizedQuery): { documents: T[]; next: string | null } => {
      const docs = documents();
      if (!docs) return { documents: [], next: null };
      return evaluateQuery(query, (function* () {
        for (const [id, json] of docs) yield [id, parse(json)] as const;
      })());
    };
    const write = (id: string, json: string | undefined): void => {
      if (readOnly) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
      let collections = this.namespaces.get(namespace);
      if (!collections) {
        collections = new Map();
        this.namespaces.set(namespace, collections);
        this.#undo.push(() => this.namespaces.delete(namespace));
      }
      let docs = collections.get(name);
      if (!docs) {
        docs = new Map();
        collections.set(name, docs);
        const created = collections;
        this.#undo.push(() => created.delete(name));
      }
      const previous = docs.get(id);
      if (json === undefined) docs.delete(id);
      else docs.set(id, json);
      const target = docs;
      this.#undo.push(() => (previous === undefined ? target.delete(id) : target.set(id, previous)));
    };
    // Every method is async, so bad input rejects (never throws) — as on the other stores.
    return {
      get: async (id) => {
        this.#assertOpen();
        assertDocumentId(name, id);
        const json = documents()?.get(id);
        return json === undefined ? null : parse(json);
      },
      find: async (query) => {
        this.#assertOpen();
        return run(normalizeQuery(name, query, 'find')).documents;
      },
      findPage: async (query) => {
        this.#assertOpen();
        return run(normalizeQuery(name, query, 'page'));
      },
      count: async (where) => {
        this.#assertOpen();
        return run(normalizeQuery(name, where, 'count')).documents.length;
      },
      upsert: async (id, document) => {
        this.#assertOpen();
        assertDocumentId(name, id);
        write(id, serializeDocument(name, id, document));
      },
      update: async (id, change) => {
        this.#assertOpen();
        assertDocumentId(name, id);
        const json = documents()?.get(id);
        if (json === undefined) return false;
        write(id, serializeDocument(name, id, change(parse(json))));
        return true;
      },
      delete: async (id) => {
        this.#assertOpen();
        assertDocumentId(name, id);
        if (documents()?.get(id) === undefined) return false;
        write(id, undefined);
        return true;
      },
    };
  }

  #state(namespace: string): ProjectionState | null {
    this.#assertOpen();
    return this.states.get(namespace) ?? null;
  }

  #requireState(namespace: string): ProjectionState {
    const state = this.#state(namespace);
    if (!state) throw new InvalidArgumentError('projection namespace', `${namespace} has no state yet; call createState first`);
    return state;
  }

  #setState(namespace: string, state: ProjectionState): void {
    const previous = this.states.get(namespace);
    this.states.set(namespace, state);
    this.#undo.push(() => (previous === undefined ? this.states.delete(namespace) : this.states.set(namespace, previous)));
  }

  #now(): string {
    return this.clock().toISOString();
  }

  #assertOpen(): void {
    if (!this.#open) throw new InvalidArgumentError('read-model transaction', 'is over: use the handle only inside the transaction that gave it');
  }
}
