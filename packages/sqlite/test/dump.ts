/** Every row of every table of a store's file, as one string: to show that something changed nothing. */
import type { SqliteDatabase } from '../src/index.js';

export function dumpTables(db: SqliteDatabase): string {
  const tables = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  const dump: Record<string, unknown[]> = {};
  for (const table of tables) {
    dump[table] = db.prepare(`SELECT * FROM "${table}" ORDER BY 1`).raw().all();
  }
  return JSON.stringify(dump);
}
