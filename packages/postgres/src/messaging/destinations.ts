/**
 * Where rows of the queue table belong: one text key per queue and per topic group, so a claim
 * scans one index range. The topic's length goes first, so no topic or group name can make two
 * destinations share a key.
 */
import { InvalidArgumentError, type ConsumeSource, type Destination } from '@eventloom/core';
import { hasLoneSurrogate } from '../names.js';

const MAX_NAME_LENGTH = 255;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function assertName(field: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || CONTROL.test(name) || hasLoneSurrogate(name)) {
    throw new InvalidArgumentError(field, `must be a string of 1 to ${MAX_NAME_LENGTH} characters without control characters, got ${JSON.stringify(name)}`);
  }
}

export function queueKey(queue: string): string {
  return `q:${queue}`;
}

export function groupKey(topic: string, group: string): string {
  return `t:${topic.length}:${topic}:${group}`;
}

/** The key a consumer of `source` reads. */
export function sourceKey(source: ConsumeSource): string {
  if ('queue' in source) {
    assertName('queue', source.queue);
    return queueKey(source.queue);
  }
  assertName('topic', source.topic);
  assertName('group', source.group);
  return groupKey(source.topic, source.group);
}

export function assertDestination(destination: Destination): void {
  assertName(destination.kind, destination.name);
}

export function describeSource(source: ConsumeSource): string {
  return 'queue' in source ? `queue ${source.queue}` : `group ${source.group} of topic ${source.topic}`;
}
