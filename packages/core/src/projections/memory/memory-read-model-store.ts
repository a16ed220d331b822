/**
 * The in-memory read-model store: the reference implementation of the contract and the store for
 * unit tests. Transactions run one at a time and write into an overlay of their own, applied at
 * once on commit — so readers, waiters and listings see only committed state and never wait for
 * a transaction that is held open across an await, and a failed transaction leaves nothing.
 */
import { AppendSignal } from '../../event-store/append-signal.js';
import { InvalidArgumentError, StoreClosedError } from '../../envelope/errors.js';
import type { Position } from '../../envelope/event.js';
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

/** Documents as JSON text, by namespace, collection and id. */
type Documents = Map<string, Map<string, Map<string, string>>>;

/** What is committed. Only a commit changes it, all at once. */
interface Committed {
  readonly documents: Documents;
  readonly states: Map<string, ProjectionState>;
  readonly active: Map<string, number>;
  readonly deadLetters: ProjectionDeadLetter[];
}

export interface MemoryReadModelStoreOptions {
  /** Where lease expiry and record times come from; tests pass a fake clock. */
  readonly clock?: () => Date;
}

export class MemoryReadModelStore implements ReadModelStore<ProjectionHandle, ReadModelView> {
  readonly #committed: Committed = { documents: new Map(), states: new Map(), active: new Map(), deadLetters: [] };
  readonly #leases = new Map<string, { owner: string; expiresAt: number }>();
  readonly #clock: () => Date;
  /** Told after each commit, so waiters look at their checkpoints again. */
  readonly #commits = new AppendSignal();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: MemoryReadModelStoreOptions = {}) {
    this.#clock = options.clock ?? (() => new Date());
  }

  transaction<R>(fn: (tx: ReadModelTransaction<ProjectionHandle>) => Promise<R> | R): Promise<R> {
    this.#assertOpen();
    const run = this.#queue.then(async () => {
      this.#assertOpen();
      const tx = new MemoryTransaction(this.#committed, this.#clock, false);
      try {
        const result = await fn(tx);
        this.#assertOpen();
        if (tx.commit()) this.#commits.notify();
        return result;
      } finally {
        tx.end();
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Reads committed state: it does not wait for a transaction in progress. */
  async read<R>(target: ReadTarget, fn: (view: ReadModelView) => Promise<R> | R): Promise<R> {
    this.#assertOpen();
    const projection = resolveReadTarget(target, (name) => this.#committed.active.get(name) ?? null);
    const tx = new MemoryTransaction(this.#committed, this.#clock, true);
    try {
      return await fn(tx.view(projection));
    } finally {
      tx.end();
    }
  }

  waitForPosition(projection: ReadTarget, position: Position, options?: WaitForPositionOptions): Promise<void> {
    return waitForCheckpoint(projection, position, options, {
      // Every commit is in this process and wakes the waiters; the poll is only a backstop.
      pollIntervalMs: 1_000,
      changed: (ms, signal) => this.#commits.wait(ms, signal),
      read: async (name, version) => {
        this.#assertOpen();
        const serving = version ?? this.#committed.active.get(name);
        if (serving === undefined) return { namespace: null, checkpoint: null, failure: null };
        const namespace = projectionNamespace(name, serving).namespace;
        const state = this.#committed.states.get(namespace);
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
    const { states, active } = this.#committed;
    return [...states.values()]
      .map((state) => ({ ...state, active: active.get(state.projection.name) === state.projection.version }))
      .sort((a, b) => a.projection.namespace.localeCompare(b.projection.namespace));
  }

  async deadLetters(namespace?: string): Promise<readonly ProjectionDeadLetter[]> {
    this.#assertOpen();
    return this.#committed.deadLetters.filter((d) => namespace === undefined || d.projection.namespace === namespace);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#commits.notify();
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

/**
 * One transaction (or, read-only, one reader): reads see the committed state under this
 * transaction's own writes; `commit` applies the writes in one synchronous step.
 */
class MemoryTransaction implements ReadModelTransaction<ProjectionHandle> {
  /** Written documents: JSON text, or null for deleted. */
  readonly #documents = new Map<string, Map<string, Map<string, string | null>>>();
  /** Namespaces dropped by this transaction: their committed documents are gone for it. */
  readonly #dropped = new Set<string>();
  /** Written states: null for removed. */
  readonly #states = new Map<string, ProjectionState | null>();
  readonly #active = new Map<string, number>();
  readonly #deadLetters: ProjectionDeadLetter[] = [];
  #open = true;

  constructor(
    private readonly committed: Committed,
    private readonly clock: () => Date,
    private readonly readOnly: boolean,
  ) {}

  handle(projection: ProjectionNamespace): ProjectionHandle {
    // Arrow functions: handlers may destructure `{ collection }` from the handle.
    return { projection, collection: <T extends object>(ref: CollectionRef<T>) => this.#collection<T>(projection.namespace, ref, false) };
  }

  view(projection: ProjectionNamespace): ReadModelView {
    return { projection, collection: <T extends object>(ref: CollectionRef<T>) => this.#collection<T>(projection.namespace, ref, true) };
  }

  async getState(namespace: string): Promise<ProjectionState | null> {
    return this.#state(namespace);
  }

  async createState(projection: ProjectionNamespace): Promise<void> {
    this.#writable();
    this.#states.set(projection.namespace, { projection, checkpoint: null, failure: null, updatedAt: this.#now() });
  }

  async getCheckpoint(namespace: string): Promise<Position | null> {
    return this.#state(namespace)?.checkpoint ?? null;
  }

  async setCheckpoint(namespace: string, position: Position): Promise<void> {
    const state = this.#requireState(namespace);
    this.#states.set(namespace, { ...state, checkpoint: position, updatedAt: this.#now() });
  }

  async setFailure(namespace: string, failure: ProjectionFailure | null): Promise<void> {
    const state = this.#requireState(namespace);
    this.#states.set(namespace, { ...state, failure, updatedAt: this.#now() });
  }

  async addDeadLetter(deadLetter: ProjectionDeadLetter): Promise<void> {
    this.#writable();
    this.#deadLetters.push(deadLetter);
  }

  async getActiveVersion(name: string): Promise<number | null> {
    this.#assertOpen();
    return this.#active.get(name) ?? this.committed.active.get(name) ?? null;
  }

  async setActiveVersion(name: string, version: number): Promise<void> {
    this.#writable();
    projectionNamespace(name, version);
    this.#active.set(name, version);
  }

  async prepareCollections(projection: ProjectionNamespace, collections: readonly CollectionDefinition<object>[]): Promise<void> {
    this.#writable();
    // Nothing to build in memory: queries scan. The names are checked as the other stores do.
    void projection;
    for (const collection of collections) collectionName(collection);
  }

  async dropNamespace(namespace: string): Promise<void> {
    this.#writable();
    this.#dropped.add(namespace);
    this.#documents.delete(namespace);
    this.#states.set(namespace, null);
  }

  /** Applies the writes, all at once; returns whether there were any. */
  commit(): boolean {
    this.#assertOpen();
    this.#open = false;
    const { documents, states, active, deadLetters } = this.committed;
    for (const namespace of this.#dropped) documents.delete(namespace);
    for (const [namespace, collections] of this.#documents) {
      let target = documents.get(namespace);
      if (!target) documents.set(namespace, (target = new Map()));
      for (const [name, written] of collections) {
        let docs = target.get(name);
        if (!docs) target.set(name, (docs = new Map()));
        for (const [id, json] of written) {
          if (json === null) docs.delete(id);
          else docs.set(id, json);
        }
      }
    }
    for (const [namespace, state] of this.#states) {
      if (state === null) states.delete(namespace);
      else states.set(namespace, state);
    }
    for (const [name, version] of this.#active) active.set(name, version);
    deadLetters.push(...this.#deadLetters);
    return this.#dropped.size + this.#documents.size + this.#states.size + this.#active.size + this.#deadLetters.length > 0;
  }

  end(): void {
    this.#open = false;
  }

  /** The JSON of document `id` as this transaction sees it, or undefined. */
  #document(namespace: string, name: string, id: string): string | undefined {
    const written = this.#documents.get(namespace)?.get(name);
    if (written?.has(id)) return written.get(id) ?? undefined;
    if (this.#dropped.has(namespace)) return undefined;
    return this.committed.documents.get(namespace)?.get(name)?.get(id);
  }

  /** Every document of the collection as this transaction sees it. */
  *#entries(namespace: string, name: string): Generator<[string, string]> {
    const written = this.#documents.get(namespace)?.get(name);
    if (!this.#dropped.has(namespace)) {
      for (const [id, json] of this.committed.documents.get(namespace)?.get(name) ?? []) {
        if (!written?.has(id)) yield [id, json];
      }
    }
    for (const [id, json] of written ?? []) if (json !== null) yield [id, json];
  }

  #write(namespace: string, name: string, id: string, json: string | null): void {
    let collections = this.#documents.get(namespace);
    if (!collections) this.#documents.set(namespace, (collections = new Map()));
    let docs = collections.get(name);
    if (!docs) collections.set(name, (docs = new Map()));
    docs.set(id, json);
  }

  #collection<T extends object>(namespace: string, ref: CollectionRef<T>, readOnly: boolean): DocumentCollection<T> {
    this.#assertOpen();
    const name = collectionName(ref);
    const parse = (json: string): T => JSON.parse(json) as T;
    const run = (query: NormalizedQuery): { documents: T[]; next: string | null } => {
      const entries = this.#entries(namespace, name);
      return evaluateQuery(
        query,
        (function* () {
          for (const [id, json] of entries) yield [id, parse(json)] as const;
        })(),
      );
    };
    const writer = (): void => {
      this.#assertOpen();
      if (readOnly) throw new InvalidArgumentError(`collection ${name}`, 'is read-only here: write to read models from projection handlers');
    };
    // Every method is async, so bad input rejects (never throws) — as on the other stores.
    return {
      get: async (id) => {
        this.#assertOpen();
        assertDocumentId(name, id);
        const json = this.#document(namespace, name, id);
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
        writer();
        assertDocumentId(name, id);
        this.#write(namespace, name, id, serializeDocument(name, id, document));
      },
      update: async (id, change) => {
        writer();
        assertDocumentId(name, id);
        const json = this.#document(namespace, name, id);
        if (json === undefined) return false;
        this.#write(namespace, name, id, serializeDocument(name, id, change(parse(json))));
        return true;
      },
      delete: async (id) => {
        writer();
        assertDocumentId(name, id);
        if (this.#document(namespace, name, id) === undefined) return false;
        this.#write(namespace, name, id, null);
        return true;
      },
    };
  }

  #state(namespace: string): ProjectionState | null {
    this.#assertOpen();
    if (this.#states.has(namespace)) return this.#states.get(namespace) ?? null;
    return this.committed.states.get(namespace) ?? null;
  }

  #requireState(namespace: string): ProjectionState {
    this.#writable();
    const state = this.#state(namespace);
    if (!state) throw new InvalidArgumentError('projection namespace', `${namespace} has no state yet; call createState first`);
    return state;
  }

  #writable(): void {
    this.#assertOpen();
    if (this.readOnly) throw new InvalidArgumentError('read-model view', 'is read-only: write to read models from projection handlers');
  }

  #now(): string {
    return this.clock().toISOString();
  }

  #assertOpen(): void {
    if (!this.#open) throw new InvalidArgumentError('read-model transaction', 'is over: use the handle only inside the transaction that gave it');
  }
}
