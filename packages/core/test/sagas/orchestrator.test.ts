import { collect, derivedId, MemoryEventStore, MemoryTransport, SagaConflictError, SagaOrchestrator, defineSaga, sagaIdempotencyKey, InvalidArgumentError, SagaNotFoundError } from '@eventloom/core';
import { describe, expect, it } from 'vitest';

/** A service that remembers the keys it acted on, so a repeated key is a no-op (as the example's services do). */
class KeyedService {
  readonly acted: string[] = [];
  readonly effects = new Map<string, number>();
  act(key: string): void {
    if (this.effects.has(key)) return;
    this.effects.set(key, 1);
    this.acted.push(key);
  }
}

const noLog = { logger: false as const };

describe('SagaOrchestrator', () => {
  it('runs the steps in order and completes, recording results and history in saga-<id>', async () => {
    const store = new MemoryEventStore();
    const calls: string[] = [];
    const saga = defineSaga<{ orderId: string }>({
      name: 'order',
      steps: [
        { name: 'reserve', action: (c) => { calls.push(`reserve:${c.input.orderId}`); return { reservation: 'r1' }; } },
        { name: 'pay', action: (c) => { calls.push(`pay:${JSON.stringify(c.results.reserve)}`); } },
      ],
    });
    const status = await new SagaOrchestrator({ store, saga, ...noLog }).execute('s1', { orderId: 'o1' });
    expect(calls).toEqual(['reserve:o1', 'pay:{"reservation":"r1"}']);
    expect(status).toMatchObject({ state: 'completed', completedSteps: ['reserve', 'pay'], results: { reserve: { reservation: 'r1' }, pay: null }, currentStep: null });
    expect(status.history.map((h) => h.type)).toEqual(['SagaStarted', 'SagaStepStarted', 'SagaStepCompleted', 'SagaStepStarted', 'SagaStepCompleted', 'SagaCompleted']);
    const log = await collect(store.readStream('saga-s1'));
    expect(log.every((e) => e.correlationId === 's1')).toBe(true);
    expect(status.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('compensates completed steps in reverse order when a step is rejected, without retrying it', async () => {
    const store = new MemoryEventStore();
    const calls: string[] = [];
    const step = (name: string) => ({ name, action: () => void calls.push(name), compensate: () => void calls.push(`undo-${name}`) });
    const saga = defineSaga({
      name: 'order',
      steps: [step('a'), step('b'), { name: 'pay', action: (c) => { calls.push('pay'); c.reject('card declined'); }, compensate: () => void calls.push('undo-pay') }, step('ship')],
    });
    const status = await new SagaOrchestrator({ store, saga, ...noLog }).execute('s2', null);
    expect(calls).toEqual(['a', 'b', 'pay', 'undo-b', 'undo-a']);
    expect(status).toMatchObject({ state: 'compensated', compensatedSteps: ['b', 'a'], failure: { step: 'pay', error: 'SagaStepRejectedError: Saga step pay was rejected: card declined' } });
  });

  it('retries a failing step with the same idempotency key, then compensates', async () => {
    const store = new MemoryEventStore();
    const keys: string[] = [];
    const saga = defineSaga({
      name: 'order',
      steps: [
        { name: 'a', action: () => undefined, compensate: (c) => void keys.push(`undo:${c.idempotencyKey}`) },
        { name: 'flaky', retry: { maxAttempts: 3, baseDelayMs: 1 }, action: (c) => { keys.push(`${c.attempt}:${c.idempotencyKey}`); throw new Error('down'); } },
      ],
    });
    const status = await new SagaOrchestrator({ store, saga, ...noLog }).execute('s3', null);
    const key = sagaIdempotencyKey('s3', 'flaky', 'action');
    expect(keys).toEqual([`1:${key}`, `2:${key}`, `3:${key}`, `undo:${sagaIdempotencyKey('s3', 'a', 'compensation')}`]);
    expect(status.state).toBe('compensated');
    expect(status.history.filter((h) => h.type === 'SagaStepFailed').map((h) => h.attempt)).toEqual([1, 2, 3]);
  });

  it('ends in compensation_failed, with the error, when a compensation keeps failing', async () => {
    const store = new MemoryEventStore();
    const saga = defineSaga({
      name: 'order',
      steps: [
        { name: 'a', action: () => undefined, compensate: () => { throw new Error('refund service gone'); }, compensationRetry: { maxAttempts: 2, baseDelayMs: 1 } },
        { name: 'b', action: (c) => c.reject('no') },
      ],
    });
    const status = await new SagaOrchestrator({ store, saga, ...noLog }).execute('s4', null);
    expect(status).toMatchObject({ state: 'compensation_failed', compensationError: { step: 'a', error: 'Error: refund service gone' } });
    expect((await new SagaOrchestrator({ store, saga, ...noLog }).unfinished())).toEqual([]);
  });

  it('times out a slow step (aborting its signal), counts it as possibly acted, and compensates it', async () => {
    const store = new MemoryEventStore();
    const calls: string[] = [];
    let aborted = 0;
    const saga = defineSaga({
      name: 'order',
      steps: [
        {
          name: 'slow',
          timeoutMs: 20,
          retry: { maxAttempts: 2, baseDelayMs: 1 },
          action: (c) => new Promise((resolve) => { c.signal.addEventListener('abort', () => { aborted++; resolve(undefined); }); }),
          compensate: () => void calls.push('undo-slow'),
        },
      ],
    });
    const status = await new SagaOrchestrator({ store, saga, ...noLog }).execute('s5', null);
    expect(aborted).toBe(2);
    expect(calls).toEqual(['undo-slow']);
    expect(status.state).toBe('compensated');
    expect(status.failure?.error).toMatch(/SagaStepTimeoutError/);
  });

  it('resumes after a crash exactly where the log stands; the interrupted step runs again with its key and acts once', async () => {
    const store = new MemoryEventStore();
    const service = new KeyedService();
    let crash = true;
    const make = () =>
      defineSaga({
        name: 'order',
        steps: [
          { name: 'a', action: (c) => service.act(c.idempotencyKey) },
          {
            name: 'b',
            action: (c) => {
              service.act(c.idempotencyKey);
              // The process dies after the service acted, before the log records it.
              if (crash) throw Object.assign(new Error('crash'), { crash: true });
            },
          },
          { name: 'c', action: (c) => service.act(c.idempotencyKey) },
        ],
      });
    // Simulate the crash by stopping at the failed attempt's append: a first executor that never records.
    const first = new SagaOrchestrator({ store, saga: make(), ...noLog });
    await first.start('s6', null);
    // Run by hand up to b's attempt: append a started b without a settle, as a killed process leaves it.
    const live = new SagaOrchestrator({ store, saga: defineSaga({ name: 'order', steps: make().steps.slice(0, 1).concat([{ name: 'b', action: (c) => { service.act(c.idempotencyKey); return new Promise(() => undefined); } }]) }), ...noLog });
    void live.resume('s6').catch(() => undefined);
    await waitFor(async () => service.acted.length === 2);
    crash = false;
    // A second executor picks it up after the "crash": b runs again (same key: no second effect), then c.
    const status = await new SagaOrchestrator({ store, saga: make(), ...noLog }).recover();
    expect(status.map((s) => s.state)).toEqual(['completed']);
    expect(service.acted).toEqual([sagaIdempotencyKey('s6', 'a', 'action'), sagaIdempotencyKey('s6', 'b', 'action'), sagaIdempotencyKey('s6', 'c', 'action')]);
    const full = (await new SagaOrchestrator({ store, saga: make(), ...noLog }).status('s6'))!;
    expect(full.history.filter((h) => h.type === 'SagaStepStarted' && h.step === 'b').map((h) => h.attempt)).toEqual([1, 2]);
  });

  it('lets one executor advance a saga at a time: the other gets SagaConflictError and acts on nothing', async () => {
    const store = new MemoryEventStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const acted: string[] = [];
    const saga = defineSaga({ name: 'order', steps: [{ name: 'a', action: async (c) => { acted.push(c.idempotencyKey); await gate; } }] });
    const one = new SagaOrchestrator({ store, saga, ...noLog });
    const two = new SagaOrchestrator({ store, saga, ...noLog });
    await one.start('s7', null);
    // Both read the log at the same version; only one append of the first attempt can win.
    const runs = Promise.allSettled([one.resume('s7'), two.resume('s7')]);
    await waitFor(async () => acted.length >= 1);
    release();
    const [a, b] = await runs;
    const outcomes = [a!, b!].map((r) => (r.status === 'fulfilled' ? r.value.state : (r.reason as Error).constructor.name));
    expect(outcomes.sort()).toEqual(['SagaConflictError', 'completed']);
    expect((await two.status('s7'))?.state).toBe('completed');
    expect(acted).toHaveLength(1);
  });

  it('refuses bad definitions and ids with typed errors', async () => {
    expect(() => defineSaga({ name: '', steps: [] })).toThrow(InvalidArgumentError);
    expect(() => defineSaga({ name: 'x', steps: [{ name: 'a', action: () => undefined }, { name: 'a', action: () => undefined }] })).toThrow(/repeats/);
    const o = new SagaOrchestrator({ store: new MemoryEventStore(), saga: defineSaga({ name: 'x', steps: [{ name: 'a', action: () => undefined }] }), ...noLog });
    await expect(o.resume('')).rejects.toThrow(InvalidArgumentError);
    await expect(o.resume('missing')).rejects.toThrow(SagaNotFoundError);
    expect(await o.status('missing')).toBeNull();
  });

  it('builds commands joined to the saga conversation with stable ids', async () => {
    const store = new MemoryEventStore();
    const seen: unknown[] = [];
    const saga = defineSaga({ name: 'order', steps: [{ name: 'pay', action: (c) => void seen.push(c.command({ type: 'Charge', data: { amount: 5 } }), c.command({ type: 'Charge', data: { amount: 5 } })) }] });
    await new SagaOrchestrator({ store, saga, ...noLog }).execute('s8', null);
    const [a, b] = seen as { id: string; correlationId: string; causationId: string }[];
    expect(a!.id).toBe(b!.id);
    expect(a!.correlationId).toBe('s8');
    const log = await collect(store.readStream('saga-s8'));
    expect(a!.causationId).toBe(log.find((e) => e.type === 'SagaStepStarted')!.id);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('SagaOrchestrator with a transport', () => {
  it('sends a step\'s commands joined to the saga (correlation = saga id, causation = the attempt), the same id on every attempt', async () => {
    const store = new MemoryEventStore();
    const transport = new MemoryTransport();
    const received: { id: string; correlationId: string; causationId: string | null; attempt: number }[] = [];
    const consumer = transport.consume<{ type: 'ChargeCard'; data: { amount: number } }>({ queue: 'payments' }, { ChargeCard: (m) => void received.push({ id: m.id, correlationId: m.correlationId, causationId: m.causationId, attempt: m.attempt }) }, { logger: false });
    try {
      const saga = defineSaga({
        name: 'order',
        steps: [
          {
            name: 'pay',
            retry: { maxAttempts: 2, baseDelayMs: 1 },
            action: async (c) => {
              await c.send('payments', { type: 'ChargeCard', data: { amount: 5 } });
              if (c.attempt === 1) throw new Error('no answer in time');
            },
          },
        ],
      });
      await new SagaOrchestrator({ store, saga, transport, ...noLog }).execute('s9', null);
      await waitFor(async () => received.length === 2);
      const log = await collect(store.readStream('saga-s9'));
      const opened = log.filter((e) => e.type === 'SagaStepStarted').map((e) => e.id);
      expect(received.map((r) => r.id)).toEqual([sagaIdempotencyKeyCommand('s9'), sagaIdempotencyKeyCommand('s9')]);
      expect(received.map((r) => r.correlationId)).toEqual(['s9', 's9']);
      expect(received.map((r) => r.causationId)).toEqual(opened);
    } finally {
      await consumer.stop();
      await transport.close();
    }
  });

  it('refuses c.send without a transport, as a failed step with a typed error', async () => {
    const saga = defineSaga({ name: 'order', steps: [{ name: 'pay', retry: { maxAttempts: 1 }, action: async (c) => void (await c.send('payments', { type: 'X', data: {} })) }] });
    const status = await new SagaOrchestrator({ store: new MemoryEventStore(), saga, ...noLog }).execute('s10', null);
    expect(status.failure?.error).toMatch(/InvalidArgumentError: .*no transport/);
  });
});

function sagaIdempotencyKeyCommand(sagaId: string): string {
  return derivedId(sagaIdempotencyKey(sagaId, 'pay', 'action'), 0);
}
