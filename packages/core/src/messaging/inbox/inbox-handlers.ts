/**
 * Message handlers guarded by an inbox: each runs inside the inbox's transaction and gets it as
 * `context.tx` to write in, so its writes and the dedupe record commit together. A redelivered
 * message is acknowledged without running the handler again.
 */
import { describeValue } from '../../envelope/describe-value.js';
import { InvalidArgumentError } from '../../envelope/errors.js';
import type { Event, EventOfType } from '../../envelope/event.js';
import type { DeliveredMessage } from '../message.js';
import type { MessageContext, MessageHandler, MessageHandlers } from '../transport.js';
import { assertInboxConsumer, type Inbox } from './inbox.js';

/** A handler's context inside the inbox: the transport's, plus the transaction to write in. */
export interface InboxMessageContext<Tx> extends MessageContext {
  /** The inbox's transaction: write here, and the writes commit with the message's record. */
  readonly tx: Tx;
}

export type InboxMessageHandler<M extends Event, Tx> = (message: DeliveredMessage<M>, context: InboxMessageContext<Tx>) => Promise<void> | void;

/** One optional handler per member of the union `M`, keyed by its type, each given the inbox's `tx`. */
export type InboxMessageHandlers<M extends Event, Tx> = {
  readonly [T in M['type']]?: InboxMessageHandler<EventOfType<M, T>, Tx>;
};

/** Thrown inside the inbox's transaction to roll it back when the handler asked for a retry or a dead letter. */
class Abandoned extends Error {}

/**
 * Wraps `handlers` so each runs once per message for `consumer` (name it after the queue or the
 * group: two consumers of one message both run). A handler that calls `context.retry()` or
 * `context.deadLetter()` has its writes rolled back and no record kept: the message is not done.
 *
 * @example
 * transport.consume({ topic: 'users', group: 'welcome-email' }, inboxHandlers(inbox, 'welcome-email', {
 *   UserRegistered: async (message, { tx }) => { tx.prepare('INSERT INTO emails …').run(…) },
 * }));
 */
export function inboxHandlers<M extends Event, Tx>(inbox: Inbox<Tx>, consumer: string, handlers: InboxMessageHandlers<M, Tx>): MessageHandlers<M> {
  if (inbox === null || typeof inbox !== 'object' || typeof inbox.handle !== 'function') {
    throw new InvalidArgumentError('inbox', `must be an inbox (createMemoryInbox, the SQLite or PostgreSQL inbox), got ${describeValue(inbox)}`);
  }
  assertInboxConsumer(consumer);
  if (handlers === null || typeof handlers !== 'object') throw new InvalidArgumentError('handlers', 'must be an object of handlers by message type');
  const wrapped: Record<string, MessageHandler<Event>> = {};
  for (const [type, handler] of Object.entries(handlers as Record<string, unknown>)) {
    if (handler === undefined) continue;
    if (typeof handler !== 'function') throw new InvalidArgumentError(`handlers.${type}`, `must be a function, got ${describeValue(handler)}`);
    const run = handler as InboxMessageHandler<Event, Tx>;
    wrapped[type] = async (message, context) => {
      let abandon: (() => void) | null = null;
      try {
        await inbox.handle(consumer, message, async (tx) => {
          await run(message, {
            tx,
            transport: context.transport,
            signal: context.signal,
            send: (queue, messages, options) => context.send(queue, messages, options),
            publish: (topic, messages, options) => context.publish(topic, messages, options),
            retry: (options) => {
              abandon = () => context.retry(options);
            },
            deadLetter: (reason) => {
              abandon = () => context.deadLetter(reason);
            },
          });
          if (abandon) throw new Abandoned();
        });
      } catch (error) {
        if (!(error instanceof Abandoned)) throw error;
      }
      (abandon as (() => void) | null)?.();
    };
  }
  return wrapped as unknown as MessageHandlers<M>;
}
