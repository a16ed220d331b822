/** Projections and read models: declare, run (async or inline), rebuild, replay, observe. */
export {
  defineCollection,
  MAX_INDEX_NAME_LENGTH,
  type CollectionDefinition,
  type CollectionIndex,
  type CollectionOptions,
  type CollectionRef,
} from './collection.js';
export {
  DEFAULT_PAGE_SIZE,
  MAX_FIELD_NAME_LENGTH,
  MAX_IN_VALUES,
  MAX_QUERY_LIMIT,
  MAX_QUERY_TERMS,
  type FieldCondition,
  type FieldOperators,
  type FieldValue,
  type FindQuery,
  type OrderBy,
  type Page,
  type PageQuery,
  type QueryField,
  type SortDirection,
  type Where,
} from './query.js';
export { defineProjection, type AnyProjection, type FailurePolicy, type Projection, type ProjectionDefinition, type ProjectionHandler, type ProjectionHandlers } from './projection.js';
export { MAX_PROJECTION_NAME_LENGTH } from './namespace.js';
export {
  MAX_COLLECTION_NAME_LENGTH,
  MAX_DOCUMENT_ID_LENGTH,
  type DocumentCollection,
  type DocumentReader,
} from './documents.js';
export type {
  ProjectionDeadLetter,
  ProjectionFailure,
  ProjectionHandle,
  ProjectionState,
  ReadModelStore,
  ReadModelTransaction,
  ReadModelView,
  TransactionOptions,
  WaitForPositionOptions,
} from './read-model-store.js';
export { DEFAULT_WAIT_TIMEOUT_MS, ProjectionWaitTimeoutError } from './wait-for-position.js';
export { formatProgress, progressBar, type ProgressBarOptions, type ProjectionProgress } from './progress.js';
export type { ProjectionLag, ProjectionRunnerEvent, ProjectionStatus, ProjectionStatusInfo } from './runner-events.js';
export { ProjectionRunner, type ProjectionRunnerOptions, type RebuildOptions } from './runner.js';
export { rebuildProjection, type RebuildProjectionOptions } from './rebuild.js';
export { replayTimeRange, type ReplayResult, type ReplayTimeRangeOptions } from './replay.js';
export { MemoryReadModelStore, type MemoryReadModelStoreOptions } from './memory/memory-read-model-store.js';
