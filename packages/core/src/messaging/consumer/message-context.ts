/** What a handler gets beside the message: sends that carry the conversation on, and the message's fate. */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import type { Destination, OutgoingMessage, SentMessage } from '../message.js';
import type { CausingEnvelope } from '../prepare.js';
import type { TraceParent } from '../tracing.js';
import type { MessageContext, SendOptions, Transport } from '../transport.js';

/** How a consumer's transport sends on behalf of a handler. */
export type CausedSend = (
  destination: Destination,
  messages: OutgoingMessage | readonly OutgoingMessage[],
  options: SendOptions | undefined,
  causedBy: CausingEnvelope,
  traceParent: TraceParent | undefined,
) => Promise<readonly SentMessage[]>;

/** What the handler asked for besides returning. */
export type HandlerDecision = { readonly kind: 'retry'; readonly delayMs: number | undefined } | { readonly kind: 'dead-letter'; readonly reason: string };

export const MAX_REJECT_REASON_LENGTH = 4096;

export class HandlerContext implements MessageContext {
  decision: HandlerDecision | null = null;
  /** The handler's span, parent of what it sends (set by tracing). */
  traceParent: TraceParent | undefined = undefined;

  constructor(
    readonly transport: Transport,
    readonly signal: AbortSignal,
    private readonly causedSend: CausedSend,
    private readonly causedBy: CausingEnvelope,
  ) {}

  send(queue: string, messages: OutgoingMessage | readonly OutgoingMessage[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.causedSend({ kind: 'queue', name: queue }, messages, options, this.causedBy, this.traceParent);
  }

  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[], options?: SendOptions): Promise<readonly SentMessage[]> {
    return this.causedSend({ kind: 'topic', name: topic }, messages, options, this.causedBy, this.traceParent);
  }

  retry(options?: { readonly delayMs?: number }): void {
    const delayMs = options?.delayMs;
    if (delayMs !== undefined && (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0)) {
      throw new InvalidArgumentError('delayMs', `must be a non-negative number of milliseconds, got ${describeValue(delayMs)}`);
    }
    this.decision = { kind: 'retry', delayMs: delayMs === undefined ? undefined : Math.ceil(delayMs) };
  }

  deadLetter(reason: string): void {
    if (typeof reason !== 'string' || reason.length === 0) {
      throw new InvalidArgumentError('reason', `must be a non-empty string saying why the message is rejected, got ${describeValue(reason)}`);
    }
    this.decision = { kind: 'dead-letter', reason: reason.length > MAX_REJECT_REASON_LENGTH ? `${reason.slice(0, MAX_REJECT_REASON_LENGTH)}…` : reason };
  }
}
