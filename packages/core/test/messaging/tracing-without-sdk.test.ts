// Tracing with @opentelemetry/api installed and no SDK registered: spans are skipped, yet a
// handled message's traceparent still reaches what its handler sends (as the API's no-op spans
// carried it), and a provider registered later, while the transport runs, is used at once.
import { MemoryTransport, type DeliveredMessage } from '@eventloom/core';
import { context as otelContext, trace, type Context, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, unique } from './support.js';

const started: { name: string; traceId: string; spanId: string; parent: string | undefined }[] = [];

const tracer: Tracer = {
  startSpan(name: string, _options: SpanOptions = {}, parent: Context = otelContext.active()): Span {
    const parentContext = trace.getSpanContext(parent);
    const own = { traceId: parentContext?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 1 };
    started.push({ name, traceId: own.traceId, spanId: own.spanId, parent: parentContext?.spanId });
    return trace.wrapSpanContext(own);
  },
  startActiveSpan(): never {
    throw new Error('not used by the transport');
  },
};
const provider: TracerProvider = { getTracer: () => tracer };

afterAll(() => trace.disable());

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('tracing with the API and no SDK', () => {
  it('carries a handled message’s traceparent on to what its handler sends, and none where there was none', async () => {
    expect(trace.getTracerProvider().getTracer('x').startSpan('probe').isRecording()).toBe(false);
    const transport = new MemoryTransport();
    const [first, second] = [unique('in'), unique('out')];
    const delivered: DeliveredMessage[] = [];
    transport.consume({ queue: first }, { Start: async (m, ctx) => void (await ctx.send(second, { type: 'Next', data: { of: m.data } })) }, { logger: false });
    transport.consume({ queue: second }, { Next: (m) => void delivered.push(m) }, { logger: false });
    await transport.send(first, [
      { type: 'Start', data: 'traced', metadata: { traceparent: TRACEPARENT } },
      { type: 'Start', data: 'untraced' },
      { type: 'Start', data: 'broken', metadata: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' } },
    ]);
    await eventually(() => expect(delivered).toHaveLength(3));
    const byOrigin = new Map(delivered.map((m) => [(m.data as { of: string }).of, m.metadata.traceparent]));
    expect(byOrigin.get('traced')).toBe(TRACEPARENT);
    expect(byOrigin.get('untraced')).toBeUndefined();
    // An invalid trace id names no span: nothing is carried on, as before.
    expect(byOrigin.get('broken')).toBeUndefined();
    expect(started).toHaveLength(0);

    // An SDK registered while the transport runs: its spans from the next send and message on.
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    await transport.send(first, { type: 'Start', data: 'after', metadata: { traceparent: TRACEPARENT } });
    await eventually(() => expect(delivered).toHaveLength(4));
    await eventually(() => expect(started.filter((s) => s.name === `${second} process`)).toHaveLength(1));
    const span = (name: string) => started.find((s) => s.name === name)!;
    expect(span(`${first} process`).parent).toBe(span(`${first} publish`).spanId);
    expect(span(`${second} publish`).parent).toBe(span(`${first} process`).spanId);
    expect(delivered[3]!.metadata.traceparent).toBe(`00-${span(`${second} publish`).traceId}-${span(`${second} publish`).spanId}-01`);

    // And after the provider is removed again, nothing is traced: no span, the traceparent carried on as before.
    trace.disable();
    const spansBefore = started.length;
    await transport.send(first, { type: 'Start', data: 'disabled', metadata: { traceparent: TRACEPARENT } });
    await eventually(() => expect(delivered).toHaveLength(5));
    expect(delivered[4]!.metadata.traceparent).toBe(TRACEPARENT);
    expect(started).toHaveLength(spansBefore);
    await transport.close();
  });
});
