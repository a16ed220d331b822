/**
 * In-process word that a read-model commit may have moved a checkpoint, shared by every store of
 * this process on the same file (each with its own connection, or sharing one): waiters wake at
 * once instead of at their next look. Commits by other processes are seen through
 * `PRAGMA data_version` instead (sqlite-read-model-store.ts).
 */
import { resolve } from 'node:path';
import type { SqliteDatabase } from '../open-database.js';

export interface CommitSignal {
  notify(): void;
  /** Calls `wake` after every `notify`, until the returned function is called. */
  listen(wake: () => void): () => void;
}

const byFile = new Map<string, Set<() => void>>();
const byConnection = new WeakMap<SqliteDatabase, Set<() => void>>();

/** The signal of `db`'s file; a private database (`:memory:`, a temporary file) has its own. */
export function commitSignalOf(db: SqliteDatabase): CommitSignal {
  const listeners = listenersOf(db);
  return {
    notify: () => {
      for (const wake of [...listeners]) wake();
    },
    listen: (wake) => {
      listeners.add(wake);
      return () => {
        listeners.delete(wake);
        if (listeners.size === 0 && !db.memory && db.name !== '') byFile.delete(resolve(db.name));
      };
    },
  };
}

function listenersOf(db: SqliteDatabase): Set<() => void> {
  if (db.memory || db.name === '') {
    let listeners = byConnection.get(db);
    if (!listeners) byConnection.set(db, (listeners = new Set()));
    return listeners;
  }
  const key = resolve(db.name);
  let listeners = byFile.get(key);
  if (!listeners) byFile.set(key, (listeners = new Set()));
  return listeners;
}
