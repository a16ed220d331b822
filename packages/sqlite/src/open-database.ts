/** Opens the SQLite file with the pragmas the store relies on: WAL, the chosen durability, no synchronous busy wait. */
import Database from 'better-sqlite3';
import { InvalidArgumentError, isEventloomError, StoreBusyError, StoreUnavailableError } from '@eventloom/core';
import { describeValue } from '@eventloom/core/adapter';
import { isBusy } from './busy.js';
import { storeError } from './sqlite-errors.js';

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

/** How long a write waits for another process's write lock, by default, before failing with StoreBusyError. */
export const BUSY_TIMEOUT_MS = 30_000;

export type SqliteDatabase = Database.Database;

/** The configured wait of each connection this package opened; others get the default. */
const busyTimeouts = new WeakMap<SqliteDatabase, number>();

export function busyTimeoutOf(db: SqliteDatabase): number {
  return busyTimeouts.get(db) ?? BUSY_TIMEOUT_MS;
}

export function checkBusyTimeout(busyTimeoutMs: unknown): number {
  if (busyTimeoutMs === undefined) return BUSY_TIMEOUT_MS;
  if (typeof busyTimeoutMs !== 'number' || !Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new InvalidArgumentError('busyTimeoutMs', `must be a non-negative number of milliseconds, got ${describeValue(busyTimeoutMs)}`);
  }
  return busyTimeoutMs;
}

export interface OpenDatabaseOptions {
  readonly durability?: Durability;
  readonly busyTimeoutMs?: number;
  /** Runs before anything is changed (before the switch to WAL): refuse files this code must not touch. */
  readonly check?: (db: SqliteDatabase) => void;
  /** Runs after the pragmas, still inside the opening's bounded wait: migrations. */
  readonly setUp?: (db: SqliteDatabase) => void;
}

/**
 * Opens `filename`. Only while opening may SQLite wait synchronously for other processes (up to
 * `busyTimeoutMs`), and only a file that is new or needs migrating makes it wait: an up-to-date
 * WAL file opens with reads alone. Afterwards `busy_timeout` is 0 and writers wait asynchronously
 * (`busy.ts`).
 */
export function openDatabase(filename: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const { durability = 'full', check, setUp } = options;
  if (typeof filename !== 'string' || filename.length === 0) {
    throw new InvalidArgumentError('filename', "must be a file path, or ':memory:' for a store that lives in memory");
  }
  if (!Object.hasOwn(SYNCHRONOUS, durability)) {
    throw new InvalidArgumentError('durability', `must be 'full', 'normal' or 'off', got ${describeValue(durability)}`);
  }
  const busyTimeoutMs = checkBusyTimeout(options.busyTimeoutMs);
  let db: SqliteDatabase;
  try {
    db = new Database(filename);
  } catch (cause) {
    throw new StoreUnavailableError(`Cannot open the SQLite file ${filename}: ${(cause as Error).message}`, { cause });
  }
  try {
    db.pragma(`busy_timeout = ${pragmaMs(busyTimeoutMs)}`);
    check?.(db);
    // ':memory:' databases answer 'memory' here, which is right for them.
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${SYNCHRONOUS[durability]}`);
    // macOS's fsync does not reach the disk's platters; F_FULLFSYNC does. Elsewhere this is a no-op.
    if (durability === 'full') db.pragma('fullfsync = ON');
    // Every append runs under a savepoint (a failure undoes only that append of its group), and a
    // savepoint copies each page it changes to a sub-journal: a temporary file by default, written
    // with a syscall per page. In memory it costs no I/O: measured on W2 (appends of 100 events,
    // synchronous=FULL), a savepoint per append cost +25% wall and +1.5 µs of system time per event
    // in a file, nothing measurable in memory. Sorts and temporary tables then live in memory too.
    db.pragma('temp_store = MEMORY');
    setUp?.(db);
    db.pragma('busy_timeout = 0');
    busyTimeouts.set(db, busyTimeoutMs);
    return db;
  } catch (cause) {
    db.close();
    throw openingError(cause, filename, busyTimeoutMs);
  }
}

/** Runs `work` letting SQLite wait synchronously for the lock (migrations on an open connection). */
export function withOpeningWait<T>(db: SqliteDatabase, work: () => T): T {
  const before = db.pragma('busy_timeout', { simple: true }) as number;
  const wait = pragmaMs(Math.max(before, busyTimeoutOf(db)));
  db.pragma(`busy_timeout = ${wait}`);
  try {
    return work();
  } catch (error) {
    throw isBusy(error) ? new StoreBusyError(`Migrating ${db.name}`, wait, { cause: error }) : error;
  } finally {
    db.pragma(`busy_timeout = ${before}`);
  }
}

/** SQLite's busy_timeout is a C int. */
function pragmaMs(ms: number): number {
  return Math.min(Math.ceil(ms), 2_147_483_647);
}

function openingError(cause: unknown, filename: string, busyTimeoutMs: number): unknown {
  if (isEventloomError(cause)) return cause;
  if (isBusy(cause)) return new StoreBusyError(`Opening ${filename}`, busyTimeoutMs, { cause });
  return storeError(cause, `setting up ${filename}`, 'nothing', filename);
}
