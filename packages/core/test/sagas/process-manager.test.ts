import { collect, MemoryEventStore, ProcessManager, TimerService, VirtualClock, type Command, type Event, type ProcessManagerDefinition, type RecordedEvent } from '@eventloom/core';
import { describe, expect, it } from 'vitest';

type Ev =
  | Event<'OrderPlaced', { orderId: string; amount: number }>
  | Event<'PaymentCaptured', { orderId: string }>
  | Event<'OrderShipped', { orderId: string }>;
type Cmd = Command<'CapturePayment', { orderId: string; amount: number }> | Command<'ShipOrder', { orderId: string }> | Command<'CancelOrder', { orderId: string }>;
interface State { placed: boolean; paid: boolean; done: boolean }

const definition = (afterCompletion: 'ignore' | 'log' | 'dead-letter' = 'dead-letter'): ProcessManagerDefinition<Ev, State, Cmd> => ({
  name: 'fulfilment',
  correlate: (e) => e.data.orderId,
  initialState: () => ({ placed: false, paid: false, done: false }),
  evolve: (s, m) => {
    switch (m.type) {
      case 'OrderPlaced': return { ...s, placed: true };
      case 'PaymentCaptured': return { ...s, paid: true };
      case 'OrderShipped': return { ...s, done: true };
      case 'ProcessTimerFired': return s.paid ? s : { ...s, done: true };
    }
  },
  react: (m, s) => {
    switch (m.type) {
      case 'OrderPlaced': return { commands: [{ type: 'CapturePayment', data: { orderId: m.data.orderId, amount: m.data.amount } }], schedule: [{ timer: 'payment', due: { delayMs: 15 * 60_000 } }] };
      case 'PaymentCaptured': return { commands: [{ type: 'ShipOrder', data: { orderId: m.data.orderId } }], cancel: ['payment'] };
      case 'ProcessTimerFired': return s.paid ? [] : [{ type: 'CancelOrder', data: { orderId: m.data.key } }];
      default: return [];
    }
  },
  isComplete: (s) => s.done,
  afterCompletion,
});

async function placed(store: MemoryEventStore, orderId: string) {
  const r = await store.appendToStream<Ev>(`order-${orderId}`, [{ type: 'OrderPlaced', data: { orderId, amount: 10 } }]);
  return r.events[0] as RecordedEvent<Ev>;
}

describe('ProcessManager', () => {
  it('reacts to correlated events with commands carrying correlation and causation, state kept as events', async () => {
    const store = new MemoryEventStore();
    const clock = new VirtualClock();
    const sent: Cmd[] = [];
    const timers = new TimerService({ store, clock, onFire: (t) => pm.onTimer(t), logger: false });
    const pm: ProcessManager<Ev, State, Cmd> = new ProcessManager({ store, definition: definition(), timers, dispatch: async (c) => void sent.push(c) });
    const e1 = await placed(store, '1');
    expect(await pm.handle(e1)).toBe('handled');
    expect(sent[0]).toMatchObject({ type: 'CapturePayment', correlationId: e1.correlationId, causationId: e1.id });
    expect((await timers.list({ state: 'scheduled' })).map((t) => t.id)).toEqual(['fulfilment_1_payment']);
    const paid = (await store.appendToStream<Ev>('payment-1', [{ type: 'PaymentCaptured', data: { orderId: '1' } }])).events[0] as RecordedEvent<Ev>;
    await pm.handle(paid);
    expect(sent.map((c) => c.type)).toEqual(['CapturePayment', 'ShipOrder']);
    expect((await timers.list({ state: 'cancelled' })).map((t) => t.id)).toEqual(['fulfilment_1_payment']);
    expect((await pm.instance('1'))).toMatchObject({ complete: false, handled: 2, state: { placed: true, paid: true } });
    expect((await collect(store.readStream('fulfilment-1'))).map((e) => e.type)).toEqual(['ProcessMessageHandled', 'ProcessMessageHandled']);
  });

  it('recognises a redelivered event: same commands (same ids) sent again, nothing recorded twice', async () => {
    const store = new MemoryEventStore();
    const sent: (Cmd & { id?: string })[] = [];
    const pm = new ProcessManager({ store, definition: definition(), timers: new TimerService({ store, onFire: () => undefined }), dispatch: async (c) => void sent.push(c) });
    const e1 = await placed(store, '2');
    await pm.handle(e1);
    expect(await pm.handle(e1)).toBe('duplicate');
    expect(sent).toHaveLength(2);
    expect(sent[0]!.id).toBe(sent[1]!.id);
    expect((await pm.instance('2'))!.handled).toBe(1);
  });

  it('fires its deadline timer: an unpaid order is cancelled after 15 minutes, and late messages are dead-lettered', async () => {
    const store = new MemoryEventStore();
    const clock = new VirtualClock();
    const sent: Cmd[] = [];
    const timers = new TimerService({ store, clock, onFire: (t) => pm.onTimer(t), logger: false });
    const pm: ProcessManager<Ev, State, Cmd> = new ProcessManager({ store, definition: definition('dead-letter'), timers, dispatch: async (c) => void sent.push(c) });
    await pm.handle(await placed(store, '3'));
    clock.advance(15 * 60_000);
    expect(await timers.fireDue()).toBe(1);
    expect(sent.map((c) => c.type)).toEqual(['CapturePayment', 'CancelOrder']);
    expect((await pm.instance('3'))!.complete).toBe(true);
    const late = (await store.appendToStream<Ev>('payment-3', [{ type: 'PaymentCaptured', data: { orderId: '3' } }])).events[0] as RecordedEvent<Ev>;
    expect(await pm.handle(late)).toBe('late');
    expect(sent).toHaveLength(2);
    expect(await store.subscriptionDeadLetters.list('fulfilment')).toMatchObject([{ eventId: late.id, eventType: 'PaymentCaptured', error: expect.stringMatching(/LateMessage/) }]);
  });

  it("ignores late messages under 'ignore', and runs on a store subscription", async () => {
    const store = new MemoryEventStore();
    const sent: Cmd[] = [];
    const pm = new ProcessManager({ store, definition: { ...definition('ignore'), react: (m) => (m.type === 'OrderPlaced' ? [{ type: 'ShipOrder' as const, data: { orderId: m.data.orderId } }] : []) }, dispatch: async (c) => void sent.push(c) });
    const sub = pm.subscribe({ subscriptionId: 'fulfilment-pm', filter: { streamPrefixes: ['order-', 'ship-'] } });
    try {
      await placed(store, '4');
      const shipped = await store.appendToStream<Ev>('ship-4', [{ type: 'OrderShipped', data: { orderId: '4' } }]);
      await store.appendToStream<Ev>('ship-4', [{ type: 'OrderShipped', data: { orderId: '4' } }]);
      await sub.waitFor(shipped.position + 1n, 5_000);
    } finally {
      await sub.stop();
    }
    expect(sent.map((c) => c.type)).toEqual(['ShipOrder']);
    expect(await store.subscriptionDeadLetters.list()).toEqual([]);
  });
});
