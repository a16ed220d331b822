// Tracing through the real @opentelemetry/api with a small recording TracerProvider registered on it.
import { MemoryTransport, type DeliveredMessage } from '@eventloom/core';
import {
  context as otelContext,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
  SpanKind as Kind,
  SpanStatusCode,
} from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, unique } from './support.js';

interface Recorded {
  readonly name: string;
  readonly kind: SpanKind;
  readonly context: SpanContext;
  readonly parentSpanId: string | undefined;
  readonly attributes: Attributes;
  status: SpanStatus;
  ended: boolean;
  exceptions: number;
}

const spans: Recorded[] = [];

class RecordingSpan implements Span {
  constructor(readonly record: Recorded) {}
  spanContext(): SpanContext {
    return this.record.context;
  }
  setAttribute(key: string, value: Attributes[string]): this {
    (this.record.attributes as Record<string, unknown>)[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.record.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {
    this.record.ended = true;
  }
  isRecording(): boolean {
    return !this.record.ended;
  }
  recordException(): void {
    this.record.exceptions++;
  }
}

const tracer: Tracer = {
  startSpan(name: string, options: SpanOptions = {}, parent: Context = otelContext.active()): Span {
    const parentContext = trace.getSpanContext(parent);
    const record: Recorded = {
      name,
      kind: options.kind ?? Kind.INTERNAL,
      context: { traceId: parentContext?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 1 },
      parentSpanId: parentContext?.spanId,
      attributes: { ...options.attributes },
      status: { code: SpanStatusCode.UNSET },
      ended: false,
      exceptions: 0,
    };
    spans.push(record);
    return new RecordingSpan(record);
  },
  startActiveSpan(): never {
    throw new Error('not used by the transport');
  },
};
const provider: TracerProvider = { getTracer: () => tracer };

const traceparentOf = (s: Recorded): string => `00-${s.context.traceId}-${s.context.spanId}-01`;

beforeAll(() => {
  expect(trace.setGlobalTracerProvider(provider)).toBe(true);
});
afterAll(() => trace.disable());

describe('tracing with @opentelemetry/api', () => {
  it('a send is a PRODUCER span, handling a CONSUMER span under it, and what the handler sends continues the trace', async () => {
    const transport = new MemoryTransport({ source: 'registration' });
    const [first, second] = [unique('users'), unique('mail')];
    const delivered: DeliveredMessage[] = [];
    transport.consume(
      { topic: first, group: 'mailer' },
      {
        UserRegistered: async (m, ctx) => {
          delivered.push(m);
          await ctx.send(second, { type: 'SendWelcome', data: {} });
        },
      },
      { logger: false },
    );
    transport.consume({ queue: second }, { SendWelcome: (m) => void delivered.push(m) }, { logger: false });
    await transport.declare([{ topic: first, group: 'mailer' }]);
    const [sent] = await transport.publish(first, { type: 'UserRegistered', data: { email: 'ada@example.com' } });
    await eventually(() => expect(delivered).toHaveLength(2));
    await eventually(() => expect(spans.filter((s) => s.name.startsWith(second)).every((s) => s.ended)).toBe(true));

    const publish = spans.find((s) => s.name === `${first} publish`)!;
    const process = spans.find((s) => s.name === `${first} process`)!;
    const send = spans.find((s) => s.name === `${second} publish`)!;
    const process2 = spans.find((s) => s.name === `${second} process`)!;
    expect(publish).toMatchObject({ kind: Kind.PRODUCER, ended: true, parentSpanId: undefined });
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': first,
      'messaging.operation.type': 'send',
      'messaging.message.id': sent!.id,
    });
    expect(process).toMatchObject({ kind: Kind.CONSUMER, ended: true, parentSpanId: publish.context.spanId });
    expect(process.context.traceId).toBe(publish.context.traceId);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': first,
      'messaging.consumer.group.name': 'mailer',
      'messaging.operation.type': 'process',
      'messaging.message.id': sent!.id,
      'messaging.message.delivery_attempt': 1,
    });
    // The envelope carries the producer's context across the wire.
    expect(delivered[0]!.metadata.traceparent).toBe(traceparentOf(publish));
    expect(send).toMatchObject({ kind: Kind.PRODUCER, parentSpanId: process.context.spanId });
    expect(send.context.traceId).toBe(publish.context.traceId);
    expect(delivered[1]!.metadata.traceparent).toBe(traceparentOf(send));
    expect(process2.parentSpanId).toBe(send.context.spanId);
    await transport.close();
  });

  it('a failing handler marks its span as an error; a refused send ends its span as an error too', async () => {
    const transport = new MemoryTransport();
    const queue = unique('q');
    transport.consume(
      { queue },
      {
        Boom: () => {
          throw new Error('boom');
        },
      },
      { logger: false, failurePolicy: { maxAttempts: 1 } },
    );
    await transport.send(queue, { type: 'Boom', data: {} });
    await eventually(() => expect(spans.find((s) => s.name === `${queue} process`)?.ended).toBe(true));
    expect(spans.find((s) => s.name === `${queue} process`)).toMatchObject({ status: { code: SpanStatusCode.ERROR, message: 'Error: boom' }, exceptions: 1 });
    await expect(transport.send(queue, { type: 'Bad', data: { n: 1n } })).rejects.toThrow();
    expect(spans.filter((s) => s.name === `${queue} publish`).at(-1)).toMatchObject({ status: { code: SpanStatusCode.ERROR }, ended: true });
    await transport.close();
  });

  it('tracing: false leaves messages and spans alone', async () => {
    const before = spans.length;
    const transport = new MemoryTransport({ tracing: false });
    const queue = unique('q');
    const seen: DeliveredMessage[] = [];
    transport.consume({ queue }, { A: (m) => void seen.push(m) }, { logger: false });
    await transport.send(queue, { type: 'A', data: {} });
    await eventually(() => expect(seen).toHaveLength(1));
    expect(seen[0]!.metadata.traceparent).toBeUndefined();
    expect(spans.length).toBe(before);
    await transport.close();
  });
});
