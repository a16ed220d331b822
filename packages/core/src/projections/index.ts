/** Projections and read models: declare, run (async or inline), rebuild, replay, observe. */
export {
  assertCollections,
  collectionName,
  defineCollection,
  MAX_INDEX_NAME_LENGTH,
  type CollectionDefinition,
  type CollectionIndex,
  type CollectionOptions,
  type CollectionRef,
} from './collection.js';
export {
  assertField,
  compareCodePoints,
  compareSortKeys,
  comparePositions,
  compareValues,
  DEFAULT_PAGE_SIZE,
  encodeCursor,
  evaluateQuery,
  KIND_RANK,
  matchesWhere,
  MAX_FIELD_NAME_LENGTH,
  MAX_IN_VALUES,
  MAX_QUERY_LIMIT,
  MAX_QUERY_TERMS,
  normalizeQuery,
  positionOf,
  sortKey,
  type CursorPosition,
  type FieldCondition,
  type FieldOperators,
  type FieldValue,
  type FindQuery,
  type KindRank,
  type NormalizedCondition,
  type NormalizedQuery,
  type NormalizedSort,
  type OrderBy,
  type Page,
  type PageQuery,
  type QueryField,
  type SortDirection,
  type SortKey,
  type Where,
} from './query.js';
export { defineProjection, type AnyProjection, type FailurePolicy, type Projection, type ProjectionDefinition, type ProjectionHandler, type ProjectionHandlers } from './projection.js';
export {
  assertProjectionName,
  assertProjectionVersion,
  projectionNamespace,
  MAX_PROJECTION_NAME_LENGTH,
  type ProjectionNamespace,
} from './namespace.js';
export {
  assertCollectionName,
  assertDocumentId,
  serializeDocument,
  MAX_COLLECTION_NAME_LENGTH,
  MAX_DOCUMENT_ID_LENGTH,
  type DocumentCollection,
  type DocumentReader,
} from './documents.js';
export type {
  ProjectionDeadLetter,
  ProjectionFailure,
  ProjectionHandle,
  ProjectionHandleBase,
  ProjectionState,
  ReadModelStore,
  ReadModelTransaction,
  ReadModelView,
  ReadModelViewBase,
  TransactionOptions,
  WaitForPositionOptions,
} from './read-model-store.js';
export {
  DEFAULT_WAIT_TIMEOUT_MS,
  ProjectionWaitTimeoutError,
  waitArguments,
  waitForCheckpoint,
  type CheckpointSnapshot,
  type CheckpointSource,
} from './wait-for-position.js';
export { resolveReadTarget, type ReadTarget } from './read-target.js';
export { drive, isPromiseLike, step, type MaybePromise } from './maybe-promise.js';
export { prepareProjection, type PreparedProjection, type PrepareOptions } from './prepare.js';
export { applyBatch, CheckpointMoved, HandlerFailure, type BatchOptions } from './apply-batch.js';
export { describeError, failureRecord } from './failure.js';
export { formatProgress, progressBar, ProgressTracker, type ProgressBarOptions, type ProjectionProgress } from './progress.js';
export type { ProjectionLag, ProjectionRunnerEvent, ProjectionStatus, ProjectionStatusInfo } from './runner-events.js';
export { ProjectionRunner, type ProjectionRunnerOptions, type RebuildOptions } from './runner.js';
export { rebuildProjection, type RebuildProjectionOptions } from './rebuild.js';
export { replayTimeRange, type ReplayResult, type ReplayTimeRangeOptions } from './replay.js';
export { assertLeaseArguments, MemoryReadModelStore, type MemoryReadModelStoreOptions } from './memory/memory-read-model-store.js';
