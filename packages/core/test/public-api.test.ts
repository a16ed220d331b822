/**
 * The names each entry point of @eventloom/core exports, written out so that a change to the
 * public API is a deliberate edit here, seen in review. The root is what applications use;
 * `@eventloom/core/adapter` holds the building blocks for store adapters.
 */
import * as root from '@eventloom/core';
import * as adapter from '@eventloom/core/adapter';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT_VALUES = [
  'aggregateDecider',
  'AggregateRoot',
  'categoryOf',
  'collect',
  'commandCausedBy',
  'CommandHandler',
  'ConcurrencyRetriesExhaustedError',
  'decisionEvents',
  'DEFAULT_BATCH_SIZE',
  'DEFAULT_PAGE_SIZE',
  'DEFAULT_WAIT_TIMEOUT_MS',
  'defineCollection',
  'defineProjection',
  'DuplicateEventIdError',
  'EventloomError',
  'fold',
  'formatProgress',
  'fromCloudEvent',
  'GroupConfigMismatchError',
  'InvalidArgumentError',
  'InvalidEventError',
  'isEventloomError',
  'isUuid',
  'LeaseHeldError',
  'loadState',
  'MAX_BATCH_SIZE',
  'MAX_COLLECTION_NAME_LENGTH',
  'MAX_DOCUMENT_ID_LENGTH',
  'MAX_EVENT_BYTES',
  'MAX_EVENT_TYPE_LENGTH',
  'MAX_FIELD_NAME_LENGTH',
  'MAX_IN_VALUES',
  'MAX_INDEX_NAME_LENGTH',
  'MAX_JSON_DEPTH',
  'MAX_POSITION',
  'MAX_PROJECTION_NAME_LENGTH',
  'MAX_QUERY_LIMIT',
  'MAX_QUERY_TERMS',
  'MAX_SCHEMA_VERSION',
  'MAX_STREAM_ID_LENGTH',
  'MAX_SUBSCRIPTION_ID_LENGTH',
  'MAX_VERSION',
  'MemoryEventStore',
  'MemoryReadModelStore',
  'MemorySnapshotStore',
  'progressBar',
  'ProjectionRunner',
  'ProjectionWaitTimeoutError',
  'rebuildProjection',
  'replayTimeRange',
  'SchemaRegistry',
  'StoreBusyError',
  'StoreClosedError',
  'StoreCorruptError',
  'StoreReadOnlyError',
  'StoreUnavailableError',
  'StreamDeletedError',
  'streamIdOf',
  'SubscriptionFailedError',
  'SubscriptionStoppedError',
  'SubscriptionWaitTimeoutError',
  'toCloudEvent',
  'TransactionClosedError',
  'UpcastError',
  'uuidv7',
  'WrongExpectedVersionError',
];
const ROOT_TYPES = [
  'AnyProjection',
  'AppendOptions',
  'AppendResult',
  'CausingMessage',
  'CheckpointStore',
  'CloudEventV1',
  'CollectionDefinition',
  'CollectionIndex',
  'CollectionOptions',
  'CollectionRef',
  'Command',
  'CommandHandlerOptions',
  'CommandResult',
  'ConsumerGroupHandlerContext',
  'ConsumerGroupMember',
  'ConsumerGroupOptions',
  'DeadLetterRetryResult',
  'Decider',
  'DeleteStreamOptions',
  'DocumentCollection',
  'DocumentReader',
  'Event',
  'EventloomErrorCode',
  'EventMetadata',
  'EventOfType',
  'EventStore',
  'EventToAppend',
  'ExpectedVersion',
  'ExpectedVersionDescription',
  'FailurePolicy',
  'FieldCondition',
  'FieldOperators',
  'FieldValue',
  'FindQuery',
  'HandleOptions',
  'JsonObject',
  'JsonPrimitive',
  'JsonValue',
  'LoadedState',
  'LoadStateOptions',
  'LogFilter',
  'MemoryEventStoreOptions',
  'MemoryReadModelStoreOptions',
  'OrderBy',
  'Page',
  'PageQuery',
  'Position',
  'ProgressBarOptions',
  'Projection',
  'ProjectionDeadLetter',
  'ProjectionDefinition',
  'ProjectionFailure',
  'ProjectionHandle',
  'ProjectionHandler',
  'ProjectionHandlers',
  'ProjectionLag',
  'ProjectionProgress',
  'ProjectionRunnerEvent',
  'ProjectionRunnerOptions',
  'ProjectionState',
  'ProjectionStatus',
  'ProjectionStatusInfo',
  'QueryField',
  'ReadAllOptions',
  'ReadCategoryOptions',
  'ReadDirection',
  'ReadModelStore',
  'ReadModelTransaction',
  'ReadModelView',
  'ReadStreamOptions',
  'RebuildOptions',
  'RebuildProjectionOptions',
  'RecordedEvent',
  'ReplayResult',
  'ReplayTimeRangeOptions',
  'RetryPolicy',
  'SchemaIssue',
  'Snapshot',
  'SnapshotCodec',
  'SnapshotPolicy',
  'SnapshotSchedule',
  'SnapshotStore',
  'SortDirection',
  'StreamInfo',
  'StreamMetadata',
  'StreamVersion',
  'SubscribeOptions',
  'Subscription',
  'SubscriptionDeadLetter',
  'SubscriptionDeadLetters',
  'SubscriptionEvent',
  'SubscriptionFailure',
  'SubscriptionHandlerContext',
  'SubscriptionLogger',
  'SubscriptionStart',
  'SubscriptionStatus',
  'TransactionOptions',
  'Upcaster',
  'WaitForPositionOptions',
  'Where',
];
const ADAPTER_VALUES = [
  'AppendSignal',
  'applyBatch',
  'assertCategory',
  'assertCollectionName',
  'assertDocumentId',
  'assertJson',
  'assertLeaseArguments',
  'assertStreamId',
  'assertSubscriptionId',
  'checkDeadLetterKey',
  'checkExpectedVersion',
  'checkSubscribeOptions',
  'collectionName',
  'compareCodePoints',
  'compareValues',
  'describeValue',
  'deserializeStreamMetadata',
  'encodeCursor',
  'evaluateQuery',
  'expectationHolds',
  'firstVisibleVersion',
  'groupSubscribeOptions',
  'HandlerFailure',
  'KIND_RANK',
  'matchesFilter',
  'MemoryLeaseStore',
  'MemorySubscriptionDeadLetters',
  'normalizeBatchSize',
  'normalizeCheckpoint',
  'normalizeExpectedVersion',
  'normalizeFilter',
  'normalizeMaxCount',
  'normalizeOptions',
  'normalizePosition',
  'normalizeQuery',
  'normalizeStreamMetadata',
  'normalizeVersion',
  'oldestVisibleTime',
  'positionOf',
  'prepareAppend',
  'prepareAppendSync',
  'prepareProjection',
  'projectionNamespace',
  'reportGroupError',
  'resolveReadTarget',
  'retryMatchesExpectation',
  'retryPartitionsDeadLetters',
  'serializeDocument',
  'serializeStreamMetadata',
  'startGroupMember',
  'startSubscription',
  'unstorableText',
  'waitForCheckpoint',
  'waitForPartitions',
];
const ADAPTER_TYPES = [
  'BatchOptions',
  'CheckpointSnapshot',
  'CheckpointSource',
  'CursorPosition',
  'GroupSubscriptionSource',
  'InternalSubscribeOptions',
  'KindRank',
  'LeaseInfo',
  'LeaseStore',
  'NormalizedCondition',
  'NormalizedQuery',
  'NormalizedSort',
  'PreparedAppend',
  'PreparedEvent',
  'PreparedProjection',
  'PrepareOptions',
  'ProjectionNamespace',
  'ReadTarget',
  'SortKey',
  'StreamState',
  'SubscriptionSource',
];

/** Every name a module exports, values and types apart, as the compiler sees them. */
function exportsOf(entry: string): { values: string[]; types: string[] } {
  const file = fileURLToPath(new URL(`../src/${entry}`, import.meta.url));
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const module = source && checker.getSymbolAtLocation(source);
  if (!module) throw new Error(`no module at ${file}`);
  const values: string[] = [];
  const types: string[] = [];
  for (const symbol of checker.getExportsOfModule(module)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
  }
  return { values: values.sort(byName), types: types.sort(byName) };
}

function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en');
}

describe('public API of @eventloom/core', () => {
  it('the root exports exactly the listed values at run time', () => {
    expect(Object.keys(root).sort(byName)).toEqual(ROOT_VALUES);
  });

  it('the adapter subpath exports exactly the listed values at run time', () => {
    expect(Object.keys(adapter).sort(byName)).toEqual(ADAPTER_VALUES);
  });

  it('the root and the adapter subpath export exactly the listed values and types', { timeout: 60_000 }, () => {
    expect(exportsOf('index.ts')).toEqual({ values: ROOT_VALUES, types: ROOT_TYPES });
    expect(exportsOf('adapter.ts')).toEqual({ values: ADAPTER_VALUES, types: ADAPTER_TYPES });
  });

  it('no name is exported from both entry points', () => {
    const rootNames = new Set([...ROOT_VALUES, ...ROOT_TYPES]);
    expect([...ADAPTER_VALUES, ...ADAPTER_TYPES].filter((name) => rootNames.has(name))).toEqual([]);
  });
});
