/** Opens the SQLite file with the pragmas the store relies on: WAL, the chosen durability, a busy timeout. */
import Database from 'better-sqlite3';
import { InvalidArgumentError, StoreUnavailableError } from '@eventloom/core';

/**
 * How hard a commit works to survive a crash:
 * - `'full'` (default): WAL + `synchronous=FULL` — the WAL is fsynced at every commit, so an
 *   acknowledged append survives a process crash, an OS crash and power loss.
 * - `'normal'`: WAL + `synchronous=NORMAL` — survives a process crash; an OS crash or power loss
 *   may undo the last commits (the file stays consistent).
 * - `'off'`: WAL + `synchronous=OFF` — survives a process crash; an OS crash or power loss may
 *   undo commits and may corrupt the file.
 */
export type Durability = 'full' | 'normal' | 'off';

const SYNCHRONOUS: Record<Durability, string> = { full: 'FULL', normal: 'NORMAL', off: 'OFF' };

/** How long a writer waits for another process's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 5_000;

export type SqliteDatabase = Database.Database;

export function openDatabase(filename: string, durability: Durability = 'full'): SqliteDatabase {
  if (typeof filename !== 'string' || filename.length === 0) {
    throw new InvalidArgumentError('filename', "must be a file path, or ':memory:' for a store that lives in memory");
  }
  if (!Object.hasOwn(SYNCHRONOUS, durability)) {
    throw new InvalidArgumentError('durability', `must be 'full', 'normal' or 'off', got ${JSON.stringify(durability)}`);
  }
  let db: SqliteDatabase;
  try {
    db = new Database(filename);
  } catch (cause) {
    throw new StoreUnavailableError(`Cannot open the SQLite file ${filename}: ${(cause as Error).message}`, { cause });
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // ':memory:' databases answer 'memory' here, which is right for them.
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${SYNCHRONOUS[durability]}`);
    // macOS's fsync does not reach the disk's platters; F_FULLFSYNC does. Elsewhere this is a no-op.
    if (durability === 'full') db.pragma('fullfsync = ON');
    return db;
  } catch (cause) {
    db.close();
    throw new StoreUnavailableError(`Cannot set up the SQLite file ${filename}: ${(cause as Error).message}`, { cause });
  }
}
