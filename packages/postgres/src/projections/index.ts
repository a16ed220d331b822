/** Read models on PostgreSQL: the read-model store, inline projections. */
export {
  openPostgresReadModels,
  PostgresReadModelStore,
  PostgresReadModelTransaction,
  type PostgresProjectionHandle,
  type PostgresReadModelStoreOptions,
  type PostgresReadModelView,
} from './postgres-read-model-store.js';
export { addPostgresInlineProjection, type PostgresInlineProjectionOptions } from './inline.js';
export { migrateReadModels } from './schema.js';
export { LATEST_READ_MODEL_SCHEMA_VERSION, READ_MODEL_MIGRATIONS, type ReadModelMigration } from './sql.js';
