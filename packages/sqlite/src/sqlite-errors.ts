/** Failures of SQLite itself (locked, disk full, I/O), mapped in one place to Eventloom's typed errors. */
import { isEventloomError, StoreUnavailableError } from '@eventloom/core';

interface SqliteErrorLike {
  readonly code: string;
  readonly message: string;
}

function isSqliteError(error: unknown): error is SqliteErrorLike {
  if (!(error instanceof Error)) return false;
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

export function isUniqueViolation(error: unknown, column: string): boolean {
  return isSqliteError(error) && error.code === 'SQLITE_CONSTRAINT_UNIQUE' && error.message.includes(column);
}

/**
 * `error` as a typed Eventloom error when SQLite raised it, saying whether anything was written;
 * Eventloom errors and errors of user code (inline handlers) pass through unchanged.
 */
export function storeError(error: unknown, doing: string, written: 'nothing' | 'unknown'): unknown {
  if (isEventloomError(error) || !isSqliteError(error)) return error;
  const outcome = written === 'nothing' ? 'nothing was written' : 'it may or may not have been written; read it back to find out';
  const hint =
    error.code === 'SQLITE_BUSY'
      ? ' (another process held the write lock too long)'
      : error.code === 'SQLITE_FULL'
        ? ' (the disk is full)'
        : error.code === 'SQLITE_READONLY'
          ? ' (the file is read-only)'
          : '';
  return new StoreUnavailableError(`SQLite failed while ${doing}${hint}: ${error.message} [${error.code}]; ${outcome}`, { cause: error });
}
