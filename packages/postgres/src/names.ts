/** Names of the database objects a store uses, derived from its schema, and safe quoting for them. */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@eventloom/core';

/** PostgreSQL truncates identifiers at 63 bytes; the schema leaves room for the suffixes below. */
export const MAX_SCHEMA_NAME_BYTES = 48;

export interface StoreNames {
  readonly schema: string;
  /** The schema, quoted for SQL text. */
  readonly qschema: string;
  /** The ordinary role the store's sessions run as, so row-level security applies to them. */
  readonly role: string;
  readonly qrole: string;
  /** Mixed into advisory-lock keys so that schemas do not contend for each other's locks. */
  readonly lockSeed: bigint;
  /** Prefix of prepared statement names: statements of two schemas must not share a name on one connection. */
  readonly statementPrefix: string;
}

/** Double-quotes an identifier, doubling embedded quotes: any text becomes one identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function namesFor(schema: string): StoreNames {
  if (typeof schema !== 'string' || schema.length === 0) {
    throw new InvalidArgumentError('schema', 'must be a non-empty string');
  }
  if (CONTROL.test(schema) || hasLoneSurrogate(schema)) {
    throw new InvalidArgumentError('schema', 'must not contain control characters or broken Unicode');
  }
  const bytes = Buffer.byteLength(schema, 'utf8');
  if (bytes > MAX_SCHEMA_NAME_BYTES) {
    throw new InvalidArgumentError(
      'schema',
      `is ${bytes} bytes long; the limit is ${MAX_SCHEMA_NAME_BYTES} (PostgreSQL identifiers stop at 63 bytes, and the store derives its role's name from it)`,
    );
  }
  const role = `${schema}_app`;
  const digest = createHash('sha1').update(schema).digest();
  const hash = digest.toString('hex').slice(0, 10);
  return {
    schema,
    qschema: quoteIdent(schema),
    role,
    qrole: quoteIdent(role),
    lockSeed: digest.readBigInt64BE(0),
    statementPrefix: `el_${hash}_`,
  };
}

/** True when `text` holds half of a surrogate pair: it would reach the server as U+FFFD, not as written. */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0xd800 || code > 0xdfff) continue;
    if (code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return true;
  }
  return false;
}
