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

/** What a handler run needs from tracing: where to leave the span's context for sends it makes. */
export interface TracedRun {
  traceParent: TraceParent | undefined;
}

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
   * Calls `handler(message, context)` inside a CONSUMER span, child of the message's
   * `traceparent`, with the span's context left in `context.traceParent` for sends it makes.
   * Returns what the handler returns (a promise or not), so a synchronous handler stays
   * synchronous; the handler and context are arguments, not a closure, so nothing is allocated
   * per message when nothing is traced.
   */
  process<C extends TracedRun>(message: DeliveredMessage, consumer: string, handler: (message: DeliveredMessage, context: C) => unknown, context: C): unknown;
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
  process: (message, _consumer, handler, context) => handler(message, context),
};

const TRACER_NAME = '@eventloom/core';

/** Calls between looks at whether a context manager was registered (a look runs a function through `context.with`). */
const CONTEXT_MANAGER_LOOK_EVERY = 1024;

class OtelTracing implements Tracing {
  #provider: Otel.TracerProvider;
  #tracer: Otel.Tracer;
  /**
   * What the API's proxy delegates to when no SDK registered a provider: the no-op provider,
   * whose spans record nothing and only carry their parent's context on. Null when this API
   * copy has no proxy to ask (then every span is made).
   */
  readonly #noopProvider: Otel.TracerProvider | null;
  readonly #probe: Otel.Context;
  #calls = 0;
  #contextManager = false;

  constructor(
    private readonly otel: Api,
    private readonly system: string,
  ) {
    this.#provider = otel.trace.getTracerProvider();
    this.#tracer = this.#provider.getTracer(TRACER_NAME);
    this.#noopProvider = typeof otel.ProxyTracerProvider === 'function' ? new otel.ProxyTracerProvider().getDelegate() : null;
    this.#probe = otel.ROOT_CONTEXT.setValue(Symbol('eventloom.probe'), true);
    this.#contextManager = this.#lookForContextManager();
  }

  /**
   * Whether nothing would record: no SDK behind the API's proxy provider and no context manager
   * (so no handler could see an active span either). Then spans are skipped altogether — with the
   * API installed and no SDK they were 40 % of a memory transport's hand-off — and only the
   * `traceparent` a message came with is carried on, as the no-op spans did. Asked on every call
   * (two property reads and a call), so an SDK registered later is used from its first message.
   */
  #noop(): boolean {
    if (this.#noopProvider === null) return false;
    const provider = this.otel.trace.getTracerProvider();
    if (provider !== this.#provider) {
      // `trace.disable()` and a new registration replace the proxy: trace through the new one.
      this.#provider = provider;
      this.#tracer = provider.getTracer(TRACER_NAME);
    }
    if (!(provider instanceof this.otel.ProxyTracerProvider) || provider.getDelegate() !== this.#noopProvider) return false;
    if (++this.#calls >= CONTEXT_MANAGER_LOOK_EVERY) {
      this.#calls = 0;
      this.#contextManager = this.#lookForContextManager();
    }
    return !this.#contextManager;
  }

  /** A registered context manager makes `context.with` change the active context; the API's no-op one does not. */
  #lookForContextManager(): boolean {
    const { context } = this.otel;
    return context.with(this.#probe, () => context.active()) === this.#probe;
  }

  send(
    kind: Destination['kind'],
    destination: string,
    messages: readonly OutgoingMessage[],
    parent: TraceParent | undefined,
    run: (messages: readonly OutgoingMessage[]) => Promise<readonly SentMessage[]>,
  ): Promise<readonly SentMessage[]> {
    if (this.#noop()) {
      // What the no-op span would carry: the handled message's traceparent, else the active span's (none without a context manager).
      const traceparent = typeof parent === 'string' ? validTraceparent(parent, this.otel) : parent === undefined ? null : traceparentOf(parent as Otel.Context, this.otel);
      return run(traceparent === null ? messages : withTraceparent(messages, traceparent));
    }
    return this.#tracedSend(kind, destination, messages, parent, run);
  }

  async #tracedSend(
    kind: Destination['kind'],
    destination: string,
    messages: readonly OutgoingMessage[],
    parent: TraceParent | undefined,
    run: (messages: readonly OutgoingMessage[]) => Promise<readonly SentMessage[]>,
  ): Promise<readonly SentMessage[]> {
    const { otel } = this;
    // A handled message's traceparent passed on while nothing was traced (an SDK registered since).
    const parentContext = typeof parent === 'string' ? contextOf(parent, otel) : ((parent as Otel.Context | undefined) ?? otel.context.active());
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
    const traced = traceparent === null ? messages : withTraceparent(messages, traceparent);
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

  process<C extends TracedRun>(message: DeliveredMessage, consumer: string, handler: (message: DeliveredMessage, context: C) => unknown, context: C): unknown {
    if (this.#noop()) {
      // Checked only if a send uses it: most handled messages send nothing.
      const traceparent = message.metadata.traceparent;
      context.traceParent = typeof traceparent === 'string' ? traceparent : undefined;
      return handler(message, context);
    }
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
    context.traceParent = spanContext;
    let result: unknown;
    try {
      result = otel.context.with(spanContext, handler, undefined, message, context);
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

function withTraceparent(messages: readonly OutgoingMessage[], traceparent: string): readonly OutgoingMessage[] {
  return messages.map((message) =>
    message !== null && typeof message === 'object' ? { ...message, metadata: { ...(message.metadata ?? {}), traceparent } } : message,
  );
}

/** `traceparent` as a no-op span would pass it on (normalized), or null when it names no valid span. */
function validTraceparent(traceparent: string, otel: Api): string | null {
  const spanContext = otel.trace.getSpanContext(contextOf(traceparent, otel));
  return spanContext === undefined ? null : formatTraceparent(spanContext, otel);
}

/** The traceparent of the span in `context` (a handler traced before the SDK went away), if any. */
function traceparentOf(context: Otel.Context, otel: Api): string | null {
  const spanContext = otel.trace.getSpanContext(context);
  return spanContext === undefined ? null : formatTraceparent(spanContext, otel);
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
