/** Failures of SQLite itself (locked, damaged, disk full, I/O), mapped in one place to Eventloom's typed errors. */
import {
  isEventloomError,
  StoreBusyError,
  StoreCorruptError,
  StoreReadOnlyError,
  StoreUnavailableError,
  type EventloomError,
} from '@eventloom/core';

interface SqliteErrorLike {
  readonly code: string;
  readonly message: string;
}

export function isSqliteError(error: unknown): error is SqliteErrorLike {
  if (!(error instanceof Error)) return false;
  const { code } = error as Error & { code?: unknown };
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

export function isUniqueViolation(error: unknown, column: string): boolean {
  return isSqliteError(error) && error.code === 'SQLITE_CONSTRAINT_UNIQUE' && error.message.includes(column);
}

function isCorruption(code: string): boolean {
  return code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_') || code === 'SQLITE_NOTADB';
}

/** What to tell a person whose file is damaged. */
export function corruptFileError(filename: string, doing: string, detail: string, cause: unknown): StoreCorruptError {
  return new StoreCorruptError(
    `The SQLite file ${filename} is damaged (${detail}), found while ${doing}. Stop the processes writing to it and ` +
      "restore it from a backup; to save what is still readable, run `sqlite3 <file> .recover | sqlite3 <new file>`, " +
      'and `PRAGMA integrity_check` lists the damage',
    { cause },
  );
}

/** JSON text the store wrote itself: text that does not parse means the file is damaged. */
export function parseStored<T>(json: string, filename: string, what: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (error) {
    throw corruptFileError(filename, `decoding ${what}`, `its JSON does not parse: ${(error as Error).message}`, error);
  }
}

/**
 * `error` as a typed Eventloom error when SQLite raised it, saying whether anything was written;
 * Eventloom errors and errors of user code (inline handlers) pass through unchanged.
 */
export function storeError(error: unknown, doing: string, written: 'nothing' | 'unknown', filename = 'of the store'): unknown {
  if (isEventloomError(error) || !isSqliteError(error)) return error;
  return sqliteError(error, doing, written, filename);
}

/** Like `storeError`, for paths where even an error of another kind must leave typed (reads). */
export function typedStoreError(error: unknown, doing: string, filename: string): EventloomError {
  if (isEventloomError(error)) return error;
  if (isSqliteError(error)) return sqliteError(error, doing, 'nothing', filename);
  return new StoreUnavailableError(`Reading ${filename} failed while ${doing}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}

function sqliteError(error: SqliteErrorLike, doing: string, written: 'nothing' | 'unknown', filename: string): EventloomError {
  const outcome = written === 'nothing' ? 'nothing was written' : 'it may or may not have been written; read it back to find out';
  if (error.code === 'SQLITE_BUSY' || error.code.startsWith('SQLITE_BUSY_')) {
    return new StoreBusyError(capitalize(doing), 0, { cause: error });
  }
  if (isCorruption(error.code)) return corruptFileError(filename, doing, `${error.message} [${error.code}]`, error);
  if (error.code === 'SQLITE_READONLY' || error.code.startsWith('SQLITE_READONLY_')) {
    return new StoreReadOnlyError(
      `SQLite refused to write while ${doing}: the file ${filename} or its folder is read-only (${error.message} [${error.code}]); ${outcome}. ` +
        'Give the process write access to the file, its -wal and -shm files and their folder',
      { cause: error },
    );
  }
  const hint = error.code === 'SQLITE_FULL' ? ' (the disk is full)' : '';
  return new StoreUnavailableError(`SQLite failed while ${doing}${hint}: ${error.message} [${error.code}]; ${outcome}`, { cause: error });
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
