/** A fresh SQLite file per test under the OS temp folder, removed (with its -wal and -shm) afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../src/index.js';

export interface TempFile {
  readonly filename: string;
  remove(): void;
}

export function tempFile(name = 'events.db'): TempFile {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-sqlite-'));
  return {
    filename: join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A store on a fresh temp file for each test of the calling `describe`, closed and removed
 * afterwards. Tests may replace `store` (to reopen the file); the last one is closed.
 */
export function useTempStore(): { readonly file: TempFile; store: SqliteEventStore } {
  const fixture = {} as { file: TempFile; store: SqliteEventStore };
  beforeEach(() => {
    fixture.file = tempFile();
    fixture.store = openSqliteEventStore({ filename: fixture.file.filename });
  });
  afterEach(async () => {
    await fixture.store.close();
    fixture.file.remove();
  });
  return fixture;
}
