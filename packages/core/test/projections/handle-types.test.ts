/**
 * The handle types, checked by the compiler (`npm test` type-checks the tests): a projection typed
 * by plain `ProjectionHandle` runs on a store whose handle has extras, beside projections that use
 * them; one that needs extras the store lacks does not compile. (The issue: the example's
 * projection did not type-check against a runner on PostgreSQL — TS2322.)
 */
import {
  defineCollection,
  defineProjection,
  MemoryEventStore,
  MemoryReadModelStore,
  ProjectionRunner,
  type Event,
  type EventStore,
  type ProjectionHandle,
  type ReadModelStore,
  type ReadModelView,
} from '@eventloom/core';
import { describe, expect, expectTypeOf, it } from 'vitest';

type Placed = Event<'Placed', { id: string; customerId: string }>;

interface Order {
  id: string;
  customerId: string;
}

const ordersCollection = defineCollection<Order>('orders', { indexes: { byCustomer: ['customerId'] } });

/** A store's own handle, as SQLite's (`db`) and PostgreSQL's (`client`) are. */
interface ExtraHandle extends ProjectionHandle {
  readonly sql: (text: string) => Promise<void>;
}
interface ExtraView extends ReadModelView {
  readonly sql: (text: string) => Promise<unknown[]>;
}

const portable = defineProjection<Placed>({
  name: 'portable',
  version: 1,
  collections: [ordersCollection],
  handlers: {
    Placed: async (event, { collection }) => {
      await collection(ordersCollection).upsert(event.data.id, event.data);
    },
  },
});

const specific = defineProjection<Placed, ExtraHandle>({
  name: 'specific',
  version: 1,
  handlers: {
    Placed: async (event, handle) => {
      await handle.sql(`-- ${event.data.id}`);
    },
  },
});

/** Never called: it only has to compile. */
function runsOnTheExtendedStore(eventStore: EventStore, readModels: ReadModelStore<ExtraHandle, ExtraView>): ProjectionRunner<ExtraHandle> {
  return new ProjectionRunner({ eventStore, readModels, projections: [portable, specific] });
}

/** Never called: a projection needing extras does not run on a store without them. */
function refusedOnThePlainStore(eventStore: EventStore, readModels: ReadModelStore): void {
  // @ts-expect-error ExtraHandle's `sql` is not on the plain store's handle
  new ProjectionRunner({ eventStore, readModels, projections: [specific] });
}

describe('handle types', () => {
  it('types declared collections from their declaration, and undeclared ones at the call', async () => {
    expect(typeof runsOnTheExtendedStore).toBe('function');
    expect(typeof refusedOnThePlainStore).toBe('function');
    const eventStore = new MemoryEventStore();
    const readModels = new MemoryReadModelStore();
    const runner = new ProjectionRunner({ eventStore, readModels, projections: [portable] });
    await runner.start();
    try {
      const { position } = await eventStore.appendToStream<Placed>('order-1', [{ type: 'Placed', data: { id: '1', customerId: 'c' } }]);
      await readModels.waitForPosition('portable', position, { timeoutMs: 5_000 });
      const found = await readModels.read('portable', (view) => view.collection(ordersCollection).find({ where: { customerId: 'c' } }));
      expectTypeOf(found).toEqualTypeOf<Order[]>();
      expect(found).toEqual([{ id: '1', customerId: 'c' }]);
      const byName = await readModels.read('portable', (view) => view.collection<Order>('orders').get('1'));
      expectTypeOf(byName).toEqualTypeOf<Order | null>();
      expect(byName).toEqual({ id: '1', customerId: 'c' });
    } finally {
      await runner.stop();
    }
  });

  it('refuses, at compile time, filters on fields the document does not have', () => {
    const query = (where: Parameters<ReturnType<ReadModelView['collection']>['count']>[0]) => where;
    expect(query({ anything: 1 })).toEqual({ anything: 1 });
    type OrderWhere = NonNullable<Parameters<import('@eventloom/core').DocumentReader<Order>['count']>[0]>;
    // @ts-expect-error `total` is not a field of Order
    const bad: OrderWhere = { total: 1 };
    // @ts-expect-error customerId is a string: a number is refused
    const wrongKind: OrderWhere = { customerId: 1 };
    expect([bad, wrongKind]).toHaveLength(2);
  });
});
