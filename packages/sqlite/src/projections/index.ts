/** Read models on SQLite: the read-model store, inline projections. */
export {
  openSqliteReadModels,
  SqliteReadModelStore,
  SqliteReadModelTransaction,
  type SqliteProjectionHandle,
  type SqliteReadModelStoreOptions,
  type SqliteReadModelView,
} from './sqlite-read-model-store.js';
export { addInlineProjection, type InlineProjectionOptions } from './inline.js';
export { migrateReadModels, LATEST_READ_MODEL_SCHEMA_VERSION } from './schema.js';
export { READ_MODEL_MIGRATIONS, type ReadModelMigration } from './sql.js';
