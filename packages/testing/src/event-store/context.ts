/** What every part of the event store conformance suite gets: a way to make a fresh store. */
import type { EventStore, SchemaRegistry } from '@eventloom/core';

export interface StoreFactoryOptions {
  /** The store must take recorded times from this clock. */
  readonly clock?: () => Date;
  /** The store must validate appends with, and upcast reads through, this registry. */
  readonly schemas?: SchemaRegistry;
}

export interface CreatedStore {
  readonly store: EventStore;
  /** Releases what `create` made (files, schemas); called after each test. */
  readonly cleanup?: () => Promise<void>;
  /**
   * Another handle on the same storage, as a second process has (its own connection or file
   * handle); the suite closes it. Without it (the memory store), the same store is used twice.
   */
  readonly reopen?: () => Promise<EventStore>;
  /**
   * How a child process opens the same storage: `module` (a file path or package name) exports
   * `openStore(env): Promise<EventStore>`, called with `env`. Without it, the suite's
   * two-process tests are skipped (a store that lives in one process).
   */
  readonly child?: { readonly module: string; readonly env: Readonly<Record<string, string>> };
}

export interface EventStoreConformanceOptions {
  /** Shown in the suite's name, e.g. `sqlite`. */
  readonly name: string;
  /** A fresh, empty store per call. */
  readonly create: (options?: StoreFactoryOptions) => Promise<CreatedStore>;
  /** Runs of the model-based property test; at least 200 (the default). */
  readonly modelRuns?: number;
  /**
   * Contract tests this adapter skips, by name, each with the reason — skips are written down,
   * never silent.
   */
  readonly skip?: Readonly<Record<string, string>>;
}

export interface SuiteContext {
  readonly options: EventStoreConformanceOptions;
  /** Makes a store that is cleaned up after the current test. */
  store(options?: StoreFactoryOptions): Promise<EventStore>;
  /** Like `store`, with what `create` returned (for `reopen` and `child`). */
  created(options?: StoreFactoryOptions): Promise<CreatedStore>;
  /** Another handle on `created`'s storage (closed after the test), or its own store when it has none. */
  reopen(created: CreatedStore): Promise<EventStore>;
}
