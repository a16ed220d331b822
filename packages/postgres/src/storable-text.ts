/**
 * PostgreSQL refuses U+0000 in `text` and `jsonb`, and half a surrogate pair would reach it as
 * U+FFFD. Core's checks allow both (JSON can hold them), so an append is checked here, before
 * anything is sent, and the typed error names the field.
 */
import { InvalidArgumentError, InvalidEventError } from '@eventloom/core';
import { assertStreamId, type PreparedEvent } from '@eventloom/core/adapter';
import { assertStorableSchemaVersion } from './limits.js';
import { hasLoneSurrogate } from './names.js';

// JSON.stringify writes U+0000 and lone surrogates as escapes; a cheap test finds candidates.
const SUSPECT_JSON = /\\u0000|\\ud[89a-f]/i;

/** core's stream id rules, and no half surrogate pair, which would be stored as U+FFFD under another id. */
export function assertStorableStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId === 'string' && hasLoneSurrogate(streamId)) {
    throw new InvalidArgumentError('streamId', 'contains half of a UTF-16 surrogate pair (broken Unicode), which PostgreSQL cannot store');
  }
  assertStreamId(streamId);
}

/** `json` holds every event's data and metadata: one test over all of it, a closer look only on a hit. */
export function assertStorable(events: readonly PreparedEvent[], json: { readonly data: string; readonly metadata: string }): void {
  const suspectData = SUSPECT_JSON.test(json.data);
  const suspectMetadata = SUSPECT_JSON.test(json.metadata);
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const field = `events[${i}]`;
    assertText(event.type, `${field}.type`);
    assertStorableSchemaVersion(event.schemaVersion, `${field}.schemaVersion`);
    assertText(event.correlationId, `${field}.correlationId`);
    if (event.causationId !== null) assertText(event.causationId, `${field}.causationId`);
    if (suspectData && SUSPECT_JSON.test(event.dataJson)) findUnstorable(event.data, `${field}.data`);
    if (suspectMetadata && SUSPECT_JSON.test(event.metadataJson)) findUnstorable(event.metadata, `${field}.metadata`);
  }
}

/** Throws `InvalidEventError` naming the first string or key under `path` PostgreSQL cannot store. */
export function findUnstorable(value: unknown, path: string): void {
  if (typeof value === 'string') {
    assertText(value, path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => findUnstorable(item, `${path}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      assertText(key, `${path} key ${JSON.stringify(key)}`);
      findUnstorable(child, `${path}.${key}`);
    }
  }
}

// A quick native test first: nearly every string passes it.
// eslint-disable-next-line no-control-regex
const MAYBE_UNSTORABLE = /[\u0000\ud800-\udfff]/;

function assertText(text: string, field: string): void {
  if (!MAYBE_UNSTORABLE.test(text)) return;
  if (text.includes('\u0000')) {
    throw new InvalidEventError(field, 'contains the character U+0000, which PostgreSQL cannot store; remove it or encode the value (e.g. base64)');
  }
  if (hasLoneSurrogate(text)) {
    throw new InvalidEventError(field, 'contains half of a UTF-16 surrogate pair (broken Unicode), which PostgreSQL cannot store');
  }
}
