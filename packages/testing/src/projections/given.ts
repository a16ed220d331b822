/**
 * Given events → then read model: specifications for users' projections. The events go into an
 * in-memory event store, the projection is built from them by the real runner, and the read
 * model is checked.
 */
import {
  MemoryEventStore,
  MemoryReadModelStore,
  ProjectionRunner,
  type AnyProjection,
  type Event,
  type EventToAppend,
  type ProjectionFailure,
  type ProjectionHandle,
  type ReadModelStore,
  type ReadModelView,
} from '@eventloom/core';
import { expect } from 'vitest';

/** An event of the scenario: where it goes (default stream `test-1`) and when it happened (default: one second after the previous). */
export type GivenEvent<E extends Event = Event> = EventToAppend<E> & {
  readonly streamId?: string;
  readonly time?: string | Date;
};

export interface ProjectionScenarioOptions<H extends ProjectionHandle = ProjectionHandle, V extends ReadModelView = ReadModelView> {
  /** The read-model store to build into. Default: a fresh `MemoryReadModelStore`. */
  readonly readModels?: () => ReadModelStore<H, V> | Promise<ReadModelStore<H, V>>;
}

export interface ProjectionScenario<V extends ReadModelView = ReadModelView> {
  /** Runs `check` against the built read model (use `expect` inside). */
  thenReadModel(check: (view: V) => Promise<void> | void): Promise<void>;
  /** The collection holds exactly these documents, by id. */
  thenDocuments(collection: string, expected: Readonly<Record<string, object>>): Promise<void>;
  /** The projection stops on a failure whose error matches `expected`; resolves with the failure. */
  thenFails(expected?: string | RegExp): Promise<ProjectionFailure>;
}

const START = Date.parse('2025-01-01T00:00:00.000Z');

/**
 * @example
 * await givenEvents(orderSummary, [
 *   { streamId: 'order-1', type: 'OrderCreated', data: { orderId: '1', customerId: 'c1', total: 30 } },
 *   { streamId: 'order-1', type: 'OrderPaid', data: { orderId: '1', amount: 30 } },
 * ]).thenDocuments('orders', { '1': { orderId: '1', customerId: 'c1', total: 30, paid: 30, status: 'paid' } });
 */
export function givenEvents<E extends Event, H extends ProjectionHandle = ProjectionHandle, V extends ReadModelView = ReadModelView>(
  projection: AnyProjection<H>,
  events: readonly GivenEvent<E>[],
  options: ProjectionScenarioOptions<H, V> = {},
): ProjectionScenario<V> {
  const run = async <R>(use: (built: { readModels: ReadModelStore<H, V>; failure: ProjectionFailure | null }) => Promise<R>): Promise<R> => {
    let now = START;
    const eventStore = new MemoryEventStore({ clock: () => new Date(now) });
    const readModels = options.readModels ? await options.readModels() : (new MemoryReadModelStore() as unknown as ReadModelStore<H, V>);
    try {
      for (const [i, given] of events.entries()) {
        const { streamId = 'test-1', time, ...event } = given;
        now = time === undefined ? START + i * 1000 : new Date(time).getTime();
        await eventStore.appendToStream(streamId, [event as EventToAppend<E>]);
      }
      const runner = new ProjectionRunner<H>({
        eventStore,
        readModels,
        projections: [projection],
        pollIntervalMs: 10,
        failurePolicy: { maxAttempts: 1 },
      });
      let failure: ProjectionFailure | null = null;
      try {
        await runner.rebuild(projection);
      } catch (error) {
        failure = runner.status(projection).failure;
        if (!failure) throw error;
      }
      return await use({ readModels, failure });
    } finally {
      await readModels.close();
      await eventStore.close();
    }
  };
  const succeeded = (failure: ProjectionFailure | null): void => {
    if (failure) {
      throw new Error(`Projection ${projection.namespace.namespace} failed on ${failure.eventType} (stream ${failure.streamId}): ${failure.error}`);
    }
  };
  const target = { name: projection.name, version: projection.version };
  return {
    thenReadModel: (check) =>
      run(async ({ readModels, failure }) => {
        succeeded(failure);
        await readModels.read(target, check);
      }),
    thenDocuments: (collection, expected) =>
      run(async ({ readModels, failure }) => {
        succeeded(failure);
        const actual = await readModels.read(target, async (view) => {
          const docs = view.collection<object>(collection);
          const byId: Record<string, object | null> = {};
          for (const id of Object.keys(expected)) byId[id] = await docs.get(id);
          return { byId, count: await docs.count() };
        });
        expect(actual.byId, `documents of ${collection}`).toEqual(expected);
        expect(actual.count, `number of documents in ${collection}`).toBe(Object.keys(expected).length);
      }),
    thenFails: (expected) =>
      run(async ({ failure }) => {
        if (!failure) throw new Error(`Expected projection ${projection.namespace.namespace} to fail, but it applied every event`);
        if (typeof expected === 'string') expect(failure.error).toContain(expected);
        else if (expected) expect(failure.error).toMatch(expected);
        return failure;
      }),
  };
}
