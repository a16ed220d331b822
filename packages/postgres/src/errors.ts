/** Where PostgreSQL's errors become Eventloom's typed errors: the one place that knows the codes. */
import {
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidEventError,
  StoreUnavailableError,
  StreamDeletedError,
  WrongExpectedVersionError,
  type ExpectedVersionDescription,
} from '@eventloom/core';
import { MAX_EVENTS_PER_TRANSACTION, SQLSTATE } from './sql/functions.js';

/** What was being done, so that the typed error can name it. */
export interface ErrorContext {
  /** e.g. `append to order-1`, `readAll`. */
  readonly operation: string;
  readonly streamId?: string;
  readonly expected?: ExpectedVersionDescription;
  /** True when the operation writes: the message then says what a caller should do about it. */
  readonly writes?: boolean;
}

interface PgError {
  readonly code?: string;
  readonly detail?: string;
  readonly constraint?: string;
  readonly message?: string;
}

/** Node socket errors and PostgreSQL's "the server is going away" codes. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** True when the connection (not the statement) failed; such a connection must leave the pool. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as PgError;
  if (code !== undefined) {
    return (
      CONNECTION_CODES.has(code) ||
      code.startsWith('08') || // connection exception
      code === '57P01' || // admin shutdown (pg_terminate_backend)
      code === '57P02' || // crash shutdown
      code === '57P03' || // cannot connect now
      code === '53300' // too many connections
    );
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(error.message);
}

/** Turns `error` into the typed error it stands for, or returns it unchanged. */
export function toStoreError(error: unknown, context: ErrorContext): unknown {
  if (!(error instanceof Error)) return error;
  const pgError = error as PgError;
  const streamId = context.streamId ?? '';
  switch (pgError.code) {
    case SQLSTATE.wrongExpectedVersion: {
      const actual = BigInt(pgError.detail ?? '0');
      return new WrongExpectedVersionError(streamId, context.expected ?? 'any', actual === 0n ? null : actual);
    }
    case SQLSTATE.streamDeleted:
      return new StreamDeletedError(streamId);
    case SQLSTATE.duplicateEventId:
      return new DuplicateEventIdError(pgError.detail ?? '', streamId);
    case SQLSTATE.tooManyEvents:
      return new InvalidArgumentError('events', `one append can hold at most ${MAX_EVENTS_PER_TRANSACTION} events`);
    case '23505':
      if (pgError.constraint === 'events_id_key') {
        // Another stream's append with one of these ids won the race to the unique index.
        const id = /=\(.*, ([0-9a-f-]{36})\)/i.exec(pgError.detail ?? '')?.[1] ?? '';
        return new DuplicateEventIdError(id, streamId);
      }
      return error;
    case '22P05': // untranslatable character: \u0000 in jsonb
    case '22021': // invalid byte sequence: NUL in text
      return new InvalidEventError('events', `hold text PostgreSQL cannot store (${pgError.message})`);
  }
  if (isConnectionError(error)) {
    const outcome = context.writes
      ? ' It was recorded whole or not at all: read the stream to see which, or retry with the same event ids (an exact retry is idempotent).'
      : '';
    return new StoreUnavailableError(
      `PostgreSQL became unreachable during ${context.operation}: ${error.message}.${outcome}`,
      { cause: error },
    );
  }
  return error;
}
