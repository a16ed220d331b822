/** A fresh SQLite file per test under the OS temp folder, removed (with its -wal and -shm) afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
