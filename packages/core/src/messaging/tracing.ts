/**
 * Tracing of messages with OpenTelemetry, when `@opentelemetry/api` (an optional peer, 1.9) is
 * installed: a PRODUCER span per send or publish (`<destination> publish`), a CONSUMER span per
 * handled message (`<destination> process`), both with the messaging semantic-convention
 * attributes, and `traceparent` carried in `metadata.traceparent` so a trace crosses services.
 * Without the package, or with no tracer provider registered, this is a no-op.
 */
import { createRequire } from 'node:module';
import type * as Otel from '@opentelemetry/api';
import { describeError } from './consumer/events.js';
import type { DeliveredMessage, Destination, OutgoingMessage, SentMessage } from './message.js';

/** A trace context to continue (the handled message's span), opaque outside this module. */
export type TraceParent = unknown;

export interface Tracing {
  /**
   * Runs a send inside a PRODUCER span: `run` gets the messages with the span's `traceparent`
   * in their metadata (or unchanged when nothing is traced).
   */
  send(
    kind: Destination['kind'],
    destination: string,
    messages: readonly OutgoingMessage[],
    parent: TraceParent | undefined,
    run: (messages: readonly OutgoingMessage[]) => Promise<readonly SentMessage[]>,
  ): Promise<readonly SentMessage[]>;
  /**
   * Runs a handler inside a CONSUMER span, child of the message's `traceparent`; `run` gets the
   * span's context for sends it makes. Returns what `run` returns (a promise or not), so a
   * synchronous handler stays synchronous.
   */
  process(message: DeliveredMessage, consumer: string, run: (parent: TraceParent | undefined) => unknown): unknown;
}

type Api = typeof Otel;

let api: Api | null | undefined;

/** `@opentelemetry/api` if it can be loaded, else `null`; looked for once. */
function loadApi(): Api | null {
  if (api !== undefined) return api;
  try {
    // Synchronous on purpose: the API keeps its registrations on globalThis, so this copy sees
    // the tracer provider the application registered through its own import.
    api = createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    api = null;
  }
  return api;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The tracing of a transport of `system` (e.g. `memory`, `rabbitmq`): OpenTelemetry's when available, else nothing. */
export function createTracing(system: string, options: { readonly enabled?: boolean } = {}): Tracing {
  const otel = options.enabled === false ? null : loadApi();
  if (otel === null) return NO_TRACING;
  return new OtelTracing(otel, system);
}

const NO_TRACING: Tracing = {
  send: (_kind, _destination, messages, _parent, run) => run(messages),
  process: (_message, _consumer, run) => run(undefined),
};

class OtelTracing implements Tracing {
  readonly #tracer: Otel.Tracer;

  constructor(
    private readonly otel: Api,
    private readonly system: string,
  ) {
    this.#tracer = otel.trace.getTracer('@eventloom/core');
  }

  async send(
    kind: Destination['kind'],
    destination: string,
    messages: readonly OutgoingMessage[],
    parent: TraceParent | undefined,
    run: (messages: readonly OutgoingMessage[]) => Promise<readonly SentMessage[]>,
  ): Promise<readonly SentMessage[]> {
    const { otel } = this;
    const parentContext = (parent as Otel.Context | undefined) ?? otel.context.active();
    const span = this.#tracer.startSpan(
      `${destination} publish`,
      {
        kind: otel.SpanKind.PRODUCER,
        attributes: {
          'messaging.system': this.system,
          'messaging.destination.name': destination,
          'messaging.destination.kind': kind,
          'messaging.operation': 'publish',
          'messaging.operation.type': 'send',
          'messaging.operation.name': kind === 'queue' ? 'send' : 'publish',
          ...(messages.length === 1 && typeof messages[0]?.id === 'string' && { 'messaging.message.id': messages[0].id }),
          ...(messages.length > 1 && { 'messaging.batch.message_count': messages.length }),
        },
      },
      parentContext,
    );
    const traceparent = formatTraceparent(span.spanContext(), otel);
    const traced =
      traceparent === null
        ? messages
        : messages.map((message) =>
            message !== null && typeof message === 'object' ? { ...message, metadata: { ...(message.metadata ?? {}), traceparent } } : message,
          );
    try {
      const sent = await run(traced);
      if (sent.length === 1 && sent[0] !== undefined) span.setAttribute('messaging.message.id', sent[0].id);
      return sent;
    } catch (error) {
      recordError(span, error, otel);
      throw error;
    } finally {
      span.end();
    }
  }

  process(message: DeliveredMessage, consumer: string, run: (parent: TraceParent | undefined) => unknown): unknown {
    const { otel } = this;
    const parentContext = contextOf(message.metadata.traceparent, otel);
    const span = this.#tracer.startSpan(
      `${message.destination.name} process`,
      {
        kind: otel.SpanKind.CONSUMER,
        attributes: {
          'messaging.system': this.system,
          'messaging.destination.name': message.destination.name,
          'messaging.destination.kind': message.destination.kind,
          'messaging.consumer.group.name': consumer,
          'messaging.operation': 'process',
          'messaging.operation.type': 'process',
          'messaging.message.id': message.id,
          'messaging.message.conversation_id': message.correlationId,
          'messaging.message.type': message.type,
          'messaging.message.delivery_attempt': message.attempt,
        },
      },
      parentContext,
    );
    const spanContext = otel.trace.setSpan(parentContext, span);
    let result: unknown;
    try {
      result = otel.context.with(spanContext, () => run(spanContext));
    } catch (error) {
      recordError(span, error, otel);
      span.end();
      throw error;
    }
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
      span.end();
      return result;
    }
    return Promise.resolve(result as PromiseLike<unknown>).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        recordError(span, error, otel);
        span.end();
        throw error;
      },
    );
  }
}

function formatTraceparent(spanContext: Otel.SpanContext, otel: Api): string | null {
  if (!otel.trace.isSpanContextValid(spanContext)) return null;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The remote context a `traceparent` names, or the root when it names none. */
function contextOf(traceparent: unknown, otel: Api): Otel.Context {
  const root = otel.ROOT_CONTEXT;
  if (typeof traceparent !== 'string') return root;
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return root;
  const spanContext: Otel.SpanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true };
  if (!otel.trace.isSpanContextValid(spanContext)) return root;
  return otel.trace.setSpanContext(root, spanContext);
}

function recordError(span: Otel.Span, error: unknown, otel: Api): void {
  // Handlers throw anything; describing it must not throw in turn and replace what was thrown.
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: describeError(error) });
}
