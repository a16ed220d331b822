/**
 * What a consumer reports: to `onEvent` and to the logger, so a failing consumer is never
 * silent (the style of subscriptions' events). Neither a listener nor a logger that throws can
 * break the consumer.
 */
import type { ConsumerEvent, ConsumerLogger } from '../transport.js';
import { reportEvent, type LogLine } from '../../subscriptions/report-event.js';

export function reportConsumerEvent(
  event: ConsumerEvent,
  onEvent: ((event: ConsumerEvent) => void) | undefined,
  logger: ConsumerLogger | false | undefined,
): void {
  reportEvent(event, onEvent, logger, logLine);
}

function logLine(event: ConsumerEvent): LogLine {
  const name = `[eventloom] consumer ${event.consumer}`;
  switch (event.type) {
    case 'retrying':
      return { level: 'warn', text: `${name}: attempt ${event.attempt} on message ${event.messageId} failed (${describeError(event.error)}); retrying in ${event.delayMs} ms` };
    case 'dead-lettered':
      return {
        level: 'warn',
        text: `${name} dead-lettered message ${event.deadLetter.message?.id ?? '(undecodable)'} (${event.deadLetter.reason}) after ${event.deadLetter.attempts} attempts: ${event.deadLetter.error}`,
      };
    case 'error':
      return event.willRetry
        ? { level: 'warn', text: `${name}: transport error, retrying: ${describeError(event.error)}` }
        : { level: 'error', text: `${name} stopped on an error: ${describeError(event.error)}` };
    default:
      return null;
  }
}

/** `name: message` of an error, or a printable form of whatever was thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return `non-Error thrown: ${typeof error === 'string' ? error : String(error)}`;
  } catch {
    return 'non-Error thrown: a value that cannot be printed';
  }
}
