/** Where PostgreSQL's errors become Eventloom's typed errors: the one place that knows the codes. */
import pg from 'pg';
import {
  DuplicateEventIdError,
  EventloomError,
  InvalidArgumentError,
  InvalidEventError,
  StoreBusyError,
  StoreReadOnlyError,
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

/** SQLSTATEs after which the store's own transaction was rolled back whole and may simply run again. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['40001', '40P01']);

/** True for a serialization failure or deadlock: nothing of the transaction remains, so running it again is safe. */
export function isRetryable(error: unknown): boolean {
  return error instanceof Error && RETRYABLE_CODES.has((error as PgError).code ?? '');
}

/** True for what the driver or the server raised, as opposed to a user's handler's own errors. */
export function isDriverError(error: unknown): error is Error {
  return error instanceof pg.DatabaseError || isConnectionError(error);
}

/**
 * SQLSTATE classes time may fix: insufficient resources (53), object in use (55), operator
 * intervention (57), system errors (58), internal errors (XX). Anything else the store did not
 * plan for (a dropped table, a bad value, a raised exception) repeats on every retry.
 */
function isTransientClass(code: string | undefined): boolean {
  return code !== undefined && ['53', '55', '57', '58', 'XX'].includes(code.slice(0, 2));
}

/** What a write's caller should know about its outcome, for errors after which nothing was written. */
function nothingWritten(context: ErrorContext): string {
  return context.writes ? ' Nothing was written.' : '';
}

/**
 * Turns `error` into the typed error it stands for. Errors of the driver or the server always
 * become an EventloomError (STORE_UNAVAILABLE naming the operation and the SQLSTATE when nothing
 * better fits); anything else — an EventloomError, a user's handler's own error — is returned
 * unchanged.
 */
export function toStoreError(error: unknown, context: ErrorContext, elapsedMs = 0): unknown {
  if (!(error instanceof Error) || error instanceof EventloomError) return error;
  const pgError = error as PgError;
  const streamId = context.streamId ?? '';
  const during = `during ${context.operation}`;
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
    // Literal: the append function raises it when called in a transaction that wrote before it.
    case 'EL005':
      return new StoreUnavailableError(
        `PostgreSQL refused ${context.operation}: the append function must be the first write of its transaction (SQLSTATE EL005); nothing was written. Append outside your own transaction, or before its other writes`,
        { cause: error, retryable: false },
      );
    case '23505':
      if (pgError.constraint === 'events_id_key') {
        // Another stream's append with one of these ids won the race to the unique index.
        const id = /=\(.*, ([0-9a-f-]{36})\)/i.exec(pgError.detail ?? '')?.[1] ?? '';
        return new DuplicateEventIdError(id, streamId);
      }
      break;
    case '22P05': // untranslatable character: \u0000 in jsonb
    case '22021': // invalid byte sequence: NUL in text
      return new InvalidEventError('events', `hold text PostgreSQL cannot store (${pgError.message})`);
    case '22003': // numeric value out of range: a number the checks before sending should have caught
      return new InvalidArgumentError(context.operation, `holds a number out of PostgreSQL's range (${pgError.message}, SQLSTATE 22003)`);
    case '25006': // read_only_sql_transaction: a hot standby, or default_transaction_read_only
      return new StoreReadOnlyError(
        `PostgreSQL refused ${context.operation}: the server is read-only (a hot standby, or default_transaction_read_only=on; SQLSTATE 25006).${nothingWritten(context)} Connect to the primary, or drop the read-only setting from the connection's options`,
        { cause: error },
      );
    case '57014': // query_canceled: statement_timeout, or pg_cancel_backend
      return new StoreUnavailableError(
        `PostgreSQL cancelled the statement ${during} (statement_timeout, or pg_cancel_backend; SQLSTATE 57014).${nothingWritten(context)} Retry, or raise statement_timeout for the store's connections`,
        { cause: error },
      );
    case '40001':
    case '40P01':
      return new StoreBusyError(`${context.operation} (a serialization failure or deadlock, SQLSTATE ${pgError.code}, after retries)`, elapsedMs, {
        cause: error,
      });
    case '55P03': // lock_not_available: lock_timeout, or NOWAIT
      return new StoreBusyError(`${context.operation} (SQLSTATE 55P03, lock_timeout)`, elapsedMs, { cause: error });
    case '42501': // insufficient_privilege
      return new StoreUnavailableError(
        `PostgreSQL refused ${context.operation}: permission denied (${pgError.message}; SQLSTATE 42501).${nothingWritten(context)} The store's role lost a grant: open the store as the schema's owner once (it grants again), or grant it by hand`,
        { cause: error, retryable: false },
      );
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
  if (error instanceof pg.DatabaseError) {
    return new StoreUnavailableError(
      `PostgreSQL failed ${during}: ${error.message} (SQLSTATE ${pgError.code ?? 'unknown'}).${nothingWritten(context)}`,
      { cause: error, retryable: isTransientClass(pgError.code) },
    );
  }
  return error;
}
