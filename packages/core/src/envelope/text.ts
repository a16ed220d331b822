/**
 * The one rule for text every store keeps (ids, types, correlation, data and metadata strings
 * and keys): well-formed UTF-16 without U+0000. PostgreSQL's `text` and `jsonb` refuse U+0000
 * and every UTF-8 store turns half a surrogate pair into U+FFFD, so such text could not read
 * back as written; the in-memory store refuses it too, so tests against it catch it.
 */

// One native scan finds the rare candidates; only those get the closer look.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// ES2024's isWellFormed (Node 20 has it; the lib here is ES2023). V8 answers it at once for a
// one-byte string, which is most text, and includes() is a memchr: together several times
// cheaper than the regex scan, which was the largest single cost of a send of 1 KB of text.
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** Why `text` cannot be stored as it is, or `undefined` when it can. */
export function unstorableText(text: string): string | undefined {
  if (isWellFormed !== undefined ? isWellFormed.call(text) && !text.includes('\u0000') : !SUSPECT.test(text)) return undefined;
  if (text.includes('\u0000')) {
    return 'contains the character U+0000, which PostgreSQL cannot store, so no store accepts it; remove it or encode the value (e.g. base64)';
  }
  if (LONE_SURROGATE.test(text)) {
    return 'contains half of a UTF-16 surrogate pair (broken Unicode), which PostgreSQL cannot store and other stores would read back as U+FFFD; fix the text or encode it';
  }
  return undefined;
}
