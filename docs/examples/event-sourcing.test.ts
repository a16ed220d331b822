/** The code of docs/event-sourcing.md, run as tests. */
import { describe, expect, it } from 'vitest';
// #region imports
import {
  collect,
  commandCausedBy,
  CommandHandler,
  loadState,
  MemoryEventStore,
  MemorySnapshotStore,
  SchemaRegistry,
  WrongExpectedVersionError,
  type Command,
  type Decider,
  type Event,
} from '@eventloom/core';
import { deciderSpec } from '@eventloom/testing';
import { z } from 'zod';
// #endregion imports

// #region domain
type CartOpened = Event<'CartOpened', { cartId: string; customerId: string }>;
type ItemAdded = Event<'ItemAdded', { sku: string; quantity: number }>;
type CartCheckedOut = Event<'CartCheckedOut', { itemCount: number }>;
type CartEvent = CartOpened | ItemAdded | CartCheckedOut;

type OpenCart = Command<'OpenCart', { cartId: string; customerId: string }>;
type AddItem = Command<'AddItem', { sku: string; quantity: number }>;
type CheckOut = Command<'CheckOut', Record<string, never>>;
type CartCommand = OpenCart | AddItem | CheckOut;

interface Cart {
  status: 'none' | 'open' | 'checked-out';
  items: number;
}

class CartError extends Error {}

const cart: Decider<CartCommand, CartEvent, Cart> = {
  initialState: () => ({ status: 'none', items: 0 }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'CartOpened':
        return { status: 'open', items: 0 };
      case 'ItemAdded':
        return { ...state, items: state.items + event.data.quantity };
      case 'CartCheckedOut':
        return { ...state, status: 'checked-out' };
      default:
        return state; // unknown (newer) event types are skipped, never crashed on
    }
  },
  decide: (command, state) => {
    switch (command.type) {
      case 'OpenCart':
        if (state.status !== 'none') throw new CartError('cart already open');
        return [{ type: 'CartOpened', data: command.data }];
      case 'AddItem':
        if (state.status !== 'open') throw new CartError('cart is not open');
        return [{ type: 'ItemAdded', data: command.data }];
      case 'CheckOut':
        if (state.items === 0) throw new CartError('cart is empty');
        return [{ type: 'CartCheckedOut', data: { itemCount: state.items } }];
    }
  },
};
// #endregion domain

describe('docs/event-sourcing.md', () => {
  it('handles commands', async () => {
    // #region handle
    const store = new MemoryEventStore();
    const carts = new CommandHandler(store, cart);

    await carts.handle('cart-42', { type: 'OpenCart', data: { cartId: '42', customerId: 'ada' } });
    await carts.handle('cart-42', { type: 'AddItem', data: { sku: 'keyboard', quantity: 2 } });
    const result = await carts.handle('cart-42', {
      type: 'CheckOut',
      data: {},
      id: '01930000-0000-7000-8000-000000000042',
      correlationId: 'checkout-request-7',
    });

    expect(result.state).toEqual({ status: 'checked-out', items: 2 });
    const [last] = await collect(store.readStream('cart-42', { direction: 'backwards', maxCount: 1 }));
    expect(last).toMatchObject({
      type: 'CartCheckedOut',
      streamVersion: 3n,
      correlationId: 'checkout-request-7', // inherited from the command
      causationId: '01930000-0000-7000-8000-000000000042', // the command's id
    });
    // #endregion handle
  });

  it('handles a command once, however often it is retried', async () => {
    const store = new MemoryEventStore();
    const carts = new CommandHandler(store, cart);
    await carts.handle('cart-7', { type: 'OpenCart', data: { cartId: '7', customerId: 'ada' } });
    // #region idempotent
    // The id comes from the caller (a request id, a message id): the same request, the same command.
    const addKeyboard: CartCommand = { type: 'AddItem', data: { sku: 'keyboard', quantity: 1 }, id: 'request-3f9a' };
    const first = await carts.handle('cart-7', addKeyboard);
    // The connection dropped before the answer arrived (STORE_UNAVAILABLE): send it again.
    const again = await carts.handle('cart-7', addKeyboard);

    expect(again.idempotent).toBe(true); // recognised: nothing decided or written
    expect(again.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
    expect(again.state.items).toBe(1);
    // #endregion idempotent
  });

  it('links event → command → event', async () => {
    const store = new MemoryEventStore();
    const carts = new CommandHandler(store, cart);
    // #region caused-by
    const opened = await carts.handle('cart-8', {
      type: 'OpenCart',
      data: { cartId: '8', customerId: 'ada' },
      correlationId: 'signup-ada',
    });
    const cartOpened = opened.events[0]!;

    // A reactor that welcomes new carts with a free item: its command is caused by the event.
    const welcome = commandCausedBy(cartOpened, { type: 'AddItem', data: { sku: 'sticker', quantity: 1 } } satisfies CartCommand);
    const added = await carts.handle('cart-8', welcome);

    expect(added.events[0]).toMatchObject({
      correlationId: 'signup-ada', // the conversation goes on
      causationId: welcome.id, // caused by the command…
      metadata: { commandCausationId: cartOpened.id }, // …which was caused by the event
    });
    // #endregion caused-by
  });

  it('appends and reads directly', async () => {
    // #region append
    const store = new MemoryEventStore();
    const first = await store.appendToStream<CartEvent>(
      'cart-7',
      [{ type: 'CartOpened', data: { cartId: '7', customerId: 'grace' } }],
      { expectedVersion: 'no_stream' },
    );
    await store.appendToStream<CartEvent>('cart-7', [{ type: 'ItemAdded', data: { sku: 'mouse', quantity: 1 } }], {
      expectedVersion: first.nextExpectedVersion,
    });

    // A writer that read version 1 and did not see the second append loses:
    await expect(
      store.appendToStream<CartEvent>('cart-7', [{ type: 'CartCheckedOut', data: { itemCount: 0 } }], {
        expectedVersion: 1n,
      }),
    ).rejects.toThrow(new WrongExpectedVersionError('cart-7', 1n, 2n));

    const seen: string[] = [];
    for await (const event of store.readStream<CartEvent>('cart-7', { batchSize: 100 })) {
      seen.push(`${event.streamVersion}:${event.type}`); // one batch in memory at a time
    }
    expect(seen).toEqual(['1:CartOpened', '2:ItemAdded']);
    const everything = await collect(store.readAll({ filter: { eventTypes: ['ItemAdded'] } }));
    expect(everything).toHaveLength(1);
    // #endregion append
  });

  it('reads only the fields it uses', async () => {
    const store = new MemoryEventStore();
    await store.appendToStream<CartEvent>('cart-8', [
      { type: 'CartOpened', data: { cartId: '8', customerId: 'ada' } },
      { type: 'ItemAdded', data: { sku: 'lamp', quantity: 2 } },
    ]);
    // #region fields
    let quantity = 0;
    // With E named, name the fields' type too; the events are then `{ type, data }` of each member.
    for await (const event of store.readStream<CartEvent, 'type' | 'data'>('cart-8', { fields: ['type', 'data'] })) {
      if (event.type === 'ItemAdded') quantity += event.data.quantity; // still narrows `data`
    }
    expect(quantity).toBe(2);

    const [first] = await collect(store.readAll({ fields: ['position', 'type'] }));
    expect(first).toEqual({ position: 1n, type: 'CartOpened' }); // exactly these keys
    await expect(collect(store.readAll({ fields: [] }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // #endregion fields
  });

  it('validates and upcasts with schemas', async () => {
    // #region schemas
    const ItemAddedV1 = z.object({ sku: z.string() });
    const ItemAddedV2 = z.object({ sku: z.string(), quantity: z.number().int().positive() });
    const schemas = new SchemaRegistry()
      .register('ItemAdded', 1, ItemAddedV1)
      .register('ItemAdded', 2, ItemAddedV2)
      .upcaster<z.infer<typeof ItemAddedV1>, z.infer<typeof ItemAddedV2>>({
        type: 'ItemAdded',
        fromVersion: 1,
        upcast: (data) => ({ ...data, quantity: 1 }), // v1 carts added one at a time
      });
    const store = new MemoryEventStore({ schemas });

    await expect(
      store.appendToStream('cart-1', [{ type: 'ItemAdded', data: { sku: 'mouse', quantity: -1 } }]),
    ).rejects.toMatchObject({ code: 'INVALID_EVENT', field: 'events[0].data.quantity' });

    await store.appendToStream('cart-1', [{ type: 'ItemAdded', schemaVersion: 1, data: { sku: 'mouse' } }]);
    const [event] = await collect(store.readStream('cart-1'));
    expect(event).toMatchObject({ schemaVersion: 2, data: { sku: 'mouse', quantity: 1 } });
    // #endregion schemas
  });

  it('snapshots and answers temporal queries', async () => {
    const store = new MemoryEventStore();
    // #region snapshots
    const snapshots = new MemorySnapshotStore();
    const policy = { store: snapshots, every: 100, schemaVersion: 1 };
    const carts = new CommandHandler(store, cart, { snapshots: policy });

    await carts.handle('cart-9', { type: 'OpenCart', data: { cartId: '9', customerId: 'alan' } });
    for (let i = 0; i < 120; i++) await carts.handle('cart-9', { type: 'AddItem', data: { sku: `sku-${i}`, quantity: 1 } });

    const now = await loadState(store, 'cart-9', cart, { snapshots: policy });
    expect(now).toMatchObject({ version: 121n, snapshotVersion: 100n, eventsRead: 21 });
    const then = await loadState(store, 'cart-9', cart, { toVersion: 11n }); // state as of version 11
    expect(then.state.items).toBe(10);
    // #endregion snapshots
  });

  it('specifies deciders with given/when/then', () => {
    // #region spec
    const spec = deciderSpec(cart);
    spec
      .given([{ type: 'CartOpened', data: { cartId: '1', customerId: 'ada' } }])
      .when({ type: 'AddItem', data: { sku: 'cable', quantity: 3 } })
      .then([{ type: 'ItemAdded', data: { sku: 'cable', quantity: 3 } }]);
    spec.given([]).when({ type: 'CheckOut', data: {} }).thenThrows(CartError, 'cart is empty');
    // #endregion spec
  });
});
