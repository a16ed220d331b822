/**
 * How every long-running part (subscriptions, consumer groups, message consumers) reports what
 * happens to it: to the listener and to the logger, so a failure is never silent, and neither a
 * listener nor a logger that throws can break the part it watches.
 */

/** The part of `console` Eventloom writes to. */
export interface EventLogger {
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

export type LogLine = { readonly level: 'warn' | 'error'; readonly text: string } | null;

export function reportEvent<E>(
  event: E,
  onEvent: ((event: E) => void) | undefined,
  logger: EventLogger | false | undefined,
  lineOf: (event: E) => LogLine,
): void {
  if (onEvent) {
    try {
      onEvent(event);
    } catch {
      // A listener's bug must not stop what it listens to.
    }
  }
  const log = logger === undefined ? console : logger;
  if (log === false) return;
  try {
    const line = lineOf(event);
    if (line) line.level === 'error' ? log.error(line.text) : log.warn(line.text);
  } catch {
    // Same for a logger that throws.
  }
}
