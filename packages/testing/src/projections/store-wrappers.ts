/** Event stores seen through a lens, for the runner conformance suite: upcasting over reads, failures on demand. */
import type { Event, EventStore, ReadAllOptions, ReadModelStore, RecordedEvent, SchemaRegistry, WholeEvents } from '@eventloom/core';

/**
 * `store`, its `readAll` upcast through `schemas` a page at a time — the whole page first, then
 * yielded, as the PostgreSQL store does — so an upcaster that throws fails the page it is on.
 */
export function upcastingReads(store: EventStore, schemas: SchemaRegistry): EventStore {
  return override(store, {
    // Projection runners read whole events; this lens is not for reads with `fields`.
    readAll: (<E extends Event>(options: ReadAllOptions & WholeEvents = {}) =>
      (async function* () {
        const page: RecordedEvent<E>[] = [];
        const size = options.batchSize ?? 500;
        for await (const event of store.readAll<E>(options)) {
          page.push(event);
          if (page.length < size) continue;
          yield* page.splice(0).map((e) => schemas.upcast(e));
        }
        yield* page.map((e) => schemas.upcast(e));
      })()) as unknown as EventStore['readAll'],
  });
}

/** `store`, with `headPosition` and `readAll` throwing `failure()` whenever it returns an error. */
export function failingReads(store: EventStore, failure: () => Error | null): EventStore {
  const check = (): void => {
    const error = failure();
    if (error) throw error;
  };
  return override(store, {
    headPosition: async () => (check(), store.headPosition()),
    // As the lens above: whole events only.
    readAll: (<E extends Event>(options?: ReadAllOptions & WholeEvents) =>
      (async function* () {
        check();
        yield* store.readAll<E>(options);
      })()) as unknown as EventStore['readAll'],
  });
}

function override(store: EventStore, parts: Partial<EventStore>): EventStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (Object.hasOwn(parts, key)) return parts[key as keyof EventStore];
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * `readModels`, with each transaction's answer held back `delayMs()` milliseconds after it
 * committed — as when the commit's reply is slow to reach the runner while other connections
 * already see the commit (PostgreSQL's NOTIFY can arrive before it).
 */
export function lateCommitReplies(readModels: ReadModelStore, delayMs: () => number): ReadModelStore {
  return new Proxy(readModels, {
    get(target, key, receiver) {
      if (key === 'transaction') {
        return async (...args: Parameters<ReadModelStore['transaction']>) => {
          const result: unknown = await target.transaction(...args);
          const ms = delayMs();
          if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
          return result;
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
