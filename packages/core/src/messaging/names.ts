/**
 * The one rule for queue, topic and group names, applied by every transport before it touches a
 * broker: names that are safe as NATS subjects and stream names, RabbitMQ queues and exchanges,
 * and SQL text alike, so a name that works on one transport works on all.
 */
import { describeValue } from '../envelope/describe-value.js';
import { InvalidArgumentError } from '../envelope/errors.js';
import type { ConsumeSource } from './message.js';

export const MAX_DESTINATION_NAME_LENGTH = 200;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** The name last found valid: a run of sends to one queue checks it once (the regex showed in single sends' profile). */
let lastValid: string | undefined;

/** Throws `InvalidArgumentError` unless `name` is a valid queue, topic or group name. */
export function assertDestinationName(name: unknown, argument: string): asserts name is string {
  if (typeof name === 'string' && name === lastValid) return;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(
      argument,
      `must be 1 to ${MAX_DESTINATION_NAME_LENGTH} characters of letters, digits, '.', '_' and '-', starting with a letter or digit (e.g. 'billing.charge-card'), got ${describeValue(name)}`,
    );
  }
  // NATS treats an empty token (`a..b`) and a trailing dot as errors; refuse them everywhere.
  if (name.endsWith('.') || name.includes('..')) {
    throw new InvalidArgumentError(argument, `must not end with '.' or contain '..', got ${describeValue(name)}`);
  }
  lastValid = name;
}

/** Throws `InvalidArgumentError` unless `source` is `{ queue }` or `{ topic, group }` with valid names. */
export function assertConsumeSource(source: unknown, argument = 'source'): asserts source is ConsumeSource {
  if (source === null || typeof source !== 'object') {
    throw new InvalidArgumentError(argument, `must be { queue: 'name' } or { topic: 'name', group: 'name' }, got ${describeValue(source)}`);
  }
  const s = source as Record<string, unknown>;
  if ('queue' in s && s.queue !== undefined) {
    if ('topic' in s || 'group' in s) throw new InvalidArgumentError(argument, 'names a queue and a topic or group; give either { queue } or { topic, group }');
    assertDestinationName(s.queue, `${argument}.queue`);
    return;
  }
  if (!('topic' in s) || s.topic === undefined) {
    throw new InvalidArgumentError(argument, `must be { queue: 'name' } or { topic: 'name', group: 'name' }, got ${describeValue(source)}`);
  }
  assertDestinationName(s.topic, `${argument}.topic`);
  assertDestinationName(s.group, `${argument}.group`);
}

/** The consumer's name: the queue's, or the group's. */
export function consumerName(source: ConsumeSource): string {
  return 'queue' in source ? source.queue : source.group;
}

/** A stable text key for a source, e.g. for maps: `queue:orders` or `topic:users/group:mailer`. */
export function sourceKey(source: ConsumeSource): string {
  return 'queue' in source ? `queue:${source.queue}` : `topic:${source.topic}/group:${source.group}`;
}
