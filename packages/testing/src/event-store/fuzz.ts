/**
 * Fuzzing from outside, as an adversarial caller would: random appends (valid and not: ids,
 * types, data with odd numbers, strings, depths and sizes, expected versions of every JS type,
 * metadata) and random reads, subscriptions and checkpoints. What must hold on every store:
 * - every refusal is an `EventloomError`, and bad input never surfaces as a store failure;
 * - a refused call changes nothing;
 * - what is accepted reads back deep-equal to what JSON makes of it.
 * `EVENTLOOM_FUZZ_RUNS` sets the number of cases (default 5,000), `EVENTLOOM_FUZZ_SEED` replays
 * a run; a one-line summary with the figures is printed at the end.
 */
import {
  collect,
  EventloomError,
  MAX_EVENT_BYTES,
  MAX_JSON_DEPTH,
  type EventStore,
  type RecordedEvent,
} from '@eventloom/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { settledLogOf, uniqueCategory } from './fixtures.js';

const DEFAULT_RUNS = 5_000;
/** Codes that say the store itself failed: bad input must be refused before it gets that far. */
const STORE_FAILURES = new Set(['STORE_UNAVAILABLE', 'STORE_CORRUPT', 'STORE_BUSY', 'STORE_CLOSED']);
/** The log is compared with the model about this many times in a run; every stream at the end. */
const FULL_CHECKS = 20;
/** Reads of the log stop after this many events, so a case costs the same late in a run as early. */
const READ_LIMIT = 40;

// ---------------------------------------------------------------- odd values

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { a: 1 };
  value.self = value;
  return value;
}

function nested(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { n: value } : [value];
  return value;
}

/** Strings of any UTF-16 code units: lone surrogates, U+0000, control characters. */
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 12 });
const oddString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  anyUnits,
  fc.constantFrom('', '\uD800', 'a\uDC00', '\uDBFF\uDFFF', 'x\u0000y', '%_\\', '-', ' ', '\u{1F389}', '\uFFFD', '\u200B'),
  fc.integer({ min: 250, max: 260 }).map((n) => 'L'.repeat(n)),
);
/** Anything JavaScript has, much of which JSON cannot hold. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
    withUnicodeString: true,
  }),
  fc.constantFrom<unknown>(undefined, null, Symbol('s'), () => 1, Number.NaN, Infinity, -Infinity, -0, 2n ** 64n, -1n),
  fc.constant(null).map(() => circular()),
);
const oddNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e-7, 0.1 + 0.2),
);
const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    oddNumber,
    oddString,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(oddString, tie('value'), { maxKeys: 4 }),
    fc.record({ present: tie('value'), absent: fc.constant(undefined) }),
  ),
})).value;
/** Event data: valid JSON mostly, then the edges: odd values, depth around the limit, size around the limit. */
const eventData: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 300, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 300, arbitrary: jsonish },
  { weight: 150, arbitrary: anyValue },
  { weight: 60, arbitrary: fc.integer({ min: MAX_JSON_DEPTH - 3, max: MAX_JSON_DEPTH + 3 }).map((n) => nested(n)) },
  { weight: 10, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => nested(n)) },
  // Rare: a run keeps what it appends, and a 16 MiB event is a lot to keep.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: -8, max: 64 }), fc.constantFrom('x', 'é', '\u{1F389}'))
      .map(([delta, unit]) => ({ blob: unit.repeat(Math.floor(MAX_EVENT_BYTES / Buffer.byteLength(unit)) + delta - 16) })),
  },
);
const eventMetadata = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.record({ tenantId: oddString, userId: fc.option(oddString, { nil: undefined }) }, { requiredKeys: [] }) },
  { weight: 2, arbitrary: fc.dictionary(oddString, jsonish, { maxKeys: 3 }) },
  { weight: 2, arbitrary: anyValue },
);
const uuid = fc.uuid();
const versionLike = fc.oneof(
  fc.integer({ min: -2, max: 12 }),
  fc.bigInt({ min: -2n, max: 12n }),
  fc.constantFrom<unknown>(2 ** 31 - 1, 2 ** 31, 2 ** 53, 1.5, Number.NaN, Infinity, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n, '1', '', null, true),
  anyValue,
);

// ---------------------------------------------------------------- operations

interface EventInput {
  readonly type: unknown;
  readonly data: unknown;
  readonly hasData: boolean;
  readonly id: unknown;
  readonly reuseId: number | undefined;
  readonly metadata: unknown;
  readonly schemaVersion: unknown;
  readonly correlationId: unknown;
  readonly causationId: unknown;
}

type Op =
  | { readonly kind: 'append'; readonly stream: unknown; readonly events: unknown; readonly expected: unknown; readonly exact: boolean }
  | { readonly kind: 'readStream'; readonly stream: unknown; readonly options: unknown }
  | { readonly kind: 'readAll'; readonly options: unknown }
  | { readonly kind: 'readCategory'; readonly category: unknown; readonly options: unknown }
  | { readonly kind: 'subscribe'; readonly options: unknown }
  | { readonly kind: 'checkpoint'; readonly id: unknown; readonly position: unknown; readonly load: boolean }
  | { readonly kind: 'streamInfo'; readonly stream: unknown }
  | { readonly kind: 'setStreamMetadata'; readonly stream: unknown; readonly metadata: unknown };

const eventInput: fc.Arbitrary<EventInput> = fc.record({
  type: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('Opened', 'Changed', 'Closed') }, { weight: 2, arbitrary: oddString }, { weight: 1, arbitrary: anyValue }),
  data: eventData,
  hasData: fc.oneof({ weight: 19, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  id: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: uuid },
    { weight: 1, arbitrary: uuid.map((u) => u.toUpperCase()) },
    { weight: 2, arbitrary: fc.oneof(oddString, anyValue) },
  ),
  reuseId: fc.option(fc.nat(50), { nil: undefined, freq: 8 }),
  metadata: eventMetadata,
  schemaVersion: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: versionLike }),
  correlationId: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: oddString }, { weight: 1, arbitrary: anyValue }),
  causationId: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: oddString }, { weight: 1, arbitrary: anyValue }),
});

/** `null` stands for a stream of the run's category, numbered; strings are suffixes to the category. */
const streamRef = fc.oneof(
  { weight: 10, arbitrary: fc.nat(5).map((n) => ({ n })) },
  { weight: 2, arbitrary: oddString.map((suffix) => ({ suffix })) },
  { weight: 1, arbitrary: anyValue.map((value) => ({ value })) },
);

const readOptions = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: fc.record(
      {
        direction: fc.oneof(fc.constantFrom('forwards', 'backwards'), anyValue),
        fromVersion: versionLike,
        maxCount: versionLike,
        batchSize: fc.oneof(fc.integer({ min: -1, max: 10_001 }), anyValue),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: anyValue },
);

const filter = fc.oneof(
  fc.record({ eventTypes: fc.array(fc.oneof(fc.constantFrom('Opened', 'Closed'), oddString), { maxLength: 3 }) }, { requiredKeys: [] }),
  fc.record({ streamPrefixes: fc.array(fc.oneof(fc.constant('PREFIX'), oddString), { maxLength: 3 }) }, { requiredKeys: [] }),
  anyValue,
);

const logOptions = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: fc.record(
      {
        fromPosition: fc.oneof(fc.bigInt({ min: -2n, max: 200n }), versionLike),
        maxCount: versionLike,
        batchSize: fc.oneof(fc.integer({ min: -1, max: 10_001 }), anyValue),
        filter,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: anyValue },
);

/** Appends that every store must accept: well-formed, with any Unicode and numbers JSON holds. */
const validEvent: fc.Arbitrary<EventInput> = fc.record({
  type: fc.constantFrom('Opened', 'Changed', 'Closed', 'Ünïcödé🎉'),
  data: fc.oneof(fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), fc.jsonValue({ maxDepth: 2 }), fc.dictionary(fc.string({ unit: 'binary' }), oddNumber)),
  hasData: fc.constant(true),
  id: fc.option(uuid, { nil: undefined }),
  reuseId: fc.constant(undefined),
  metadata: fc.option(fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }), { maxKeys: 3 }), { nil: undefined }),
  schemaVersion: fc.option(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { nil: undefined }),
  correlationId: fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), { nil: undefined }),
  causationId: fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), { nil: undefined }),
});

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      stream: fc.oneof(fc.nat(5).map((n) => ({ n })), fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).map((suffix) => ({ suffix }))),
      events: fc.array(validEvent, { minLength: 1, maxLength: 4 }).map((list) => ({ list })),
      expected: fc.constantFrom<unknown>(undefined, 'any'),
      exact: fc.boolean(),
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      stream: streamRef,
      events: fc.oneof(
        { weight: 10, arbitrary: fc.array(eventInput, { minLength: 0, maxLength: 4 }).map((list) => ({ list })) },
        { weight: 1, arbitrary: anyValue.map((value) => ({ value })) },
      ),
      expected: fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.constantFrom('any', 'no_stream', 'stream_exists') },
        { weight: 3, arbitrary: versionLike },
        { weight: 1, arbitrary: oddString },
      ),
      exact: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('readStream' as const), stream: streamRef, options: readOptions }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('readAll' as const), options: logOptions }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('readCategory' as const),
      category: fc.oneof(fc.constant(null), oddString, anyValue),
      options: fc.oneof(fc.constant(undefined), fc.record({ eventTypes: fc.array(oddString, { maxLength: 2 }), maxCount: versionLike }, { requiredKeys: [] }), anyValue),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      options: fc.oneof(
        fc.record(
          {
            subscriptionId: fc.oneof(oddString, anyValue),
            fromPosition: fc.oneof(fc.bigInt({ min: -2n, max: 100n }), versionLike),
            filter,
            batchSize: fc.oneof(fc.integer({ min: -1, max: 10_001 }), anyValue),
            pollIntervalMs: fc.oneof(fc.integer({ min: -1, max: 1000 }), anyValue),
            maxAttempts: fc.oneof(fc.integer({ min: -1, max: 10 }), anyValue),
          },
          { requiredKeys: [] },
        ),
        anyValue,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('checkpoint' as const),
      id: fc.oneof({ weight: 4, arbitrary: fc.nat(3).map((n) => ({ n })) }, { weight: 2, arbitrary: oddString.map((suffix) => ({ suffix })) }, { weight: 1, arbitrary: anyValue.map((value) => ({ value })) }),
      position: fc.oneof(fc.bigInt({ min: -2n, max: 2n ** 64n }), fc.constantFrom<unknown>(0n, 2n ** 63n - 1n, 2n ** 63n, undefined), versionLike),
      load: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('streamInfo' as const), stream: streamRef }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setStreamMetadata' as const),
      stream: fc.nat(3),
      metadata: fc.oneof(
        fc.record(
          { maxCount: versionLike, maxAgeSeconds: fc.oneof(fc.double(), anyValue), truncateBefore: versionLike, custom: fc.oneof(jsonish, anyValue) },
          { requiredKeys: [] },
        ),
        anyValue,
      ),
    }),
  },
);

// ---------------------------------------------------------------- the run

/** What the store must hold for one recorded event, as JSON makes it. */
interface Expected {
  readonly id: string;
  readonly streamId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly correlationId: string;
  readonly causationId: string | null;
}

export interface FuzzFigures {
  cases: number;
  accepted: number;
  /** Events recorded by accepted appends, each read back and compared. */
  recorded: number;
  typed: Record<string, number>;
  untyped: number;
  storeFailures: number;
  changedByRefused: number;
  roundTripFailures: number;
}

class FuzzRun {
  readonly figures: FuzzFigures = { cases: 0, accepted: 0, recorded: 0, typed: {}, untyped: 0, storeFailures: 0, changedByRefused: 0, roundTripFailures: 0 };
  readonly problems: string[] = [];
  readonly #streams = new Map<string, Expected[]>();
  readonly #log: Expected[] = [];
  readonly #ids: string[] = [];
  readonly #idSet = new Set<string>();
  readonly #checkpoints = new Map<string, bigint>();
  readonly #category = uniqueCategory('fuzz');

  constructor(
    readonly store: EventStore,
    readonly fullCheckEvery: number,
  ) {}

  async case(operation: Op): Promise<void> {
    this.figures.cases++;
    try {
      await this.#run(operation);
    } catch (error) {
      this.#problem('the check itself failed', operation, error);
    }
    if (this.figures.cases % this.fullCheckEvery === 0) await this.fullCheck(false);
  }

  /** Every stream and the log under the run's category equal the model. */
  async fullCheck(everyStream: boolean): Promise<void> {
    const prefix = `${this.#category}-`;
    const log = await settledLogOf(this.store, prefix, this.#log.length);
    if (!sameIds(log, this.#log)) {
      const at = this.#log.findIndex((event, i) => log[i]?.id !== event.id);
      const missing = this.#log[at];
      this.#fail(
        'changedByRefused',
        `the log under ${prefix} holds ${log.length} events, the model ${this.#log.length}; first difference at ${at}: the model's ${show(missing?.id)} of ${show(missing?.streamId)}, the log's ${show(log[at]?.id)} of ${show(log[at]?.streamId)}`,
      );
    }
    if (!everyStream) return;
    for (const [streamId, expected] of this.#streams) {
      const events = await collect(this.store.readStream(streamId));
      if (!sameIds(events, expected)) this.#fail('changedByRefused', `${show(streamId)} holds ${events.length} events, the model ${expected.length}`);
    }
  }

  summary(): string {
    const f = this.figures;
    const typed = Object.entries(f.typed)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    return `cases ${f.cases}, accepted ${f.accepted} (events recorded and read back ${f.recorded}), typed errors ${sum(f.typed)} (${typed}), untyped ${f.untyped}, store failures on bad input ${f.storeFailures}, changed by a refused call ${f.changedByRefused}, round-trip failures ${f.roundTripFailures}`;
  }

  #streamId(ref: unknown): unknown {
    const r = ref as { n?: number; suffix?: string; value?: unknown };
    if (r.n !== undefined) return `${this.#category}-${r.n}`;
    if (r.suffix !== undefined) return `${this.#category}-${r.suffix}`;
    // Strings stay under the run's category, where the model can see all it writes.
    return typeof r.value === 'string' ? `${this.#category}-${r.value}` : r.value;
  }

  async #run(operation: Op): Promise<void> {
    switch (operation.kind) {
      case 'append':
        return this.#append(operation);
      case 'readStream': {
        const streamId = this.#streamId(operation.stream);
        const outcome = await attempt(() => collectSome(this.store.readStream(streamId as string, operation.options as never)));
        if (this.#refusal(outcome, operation)) return;
        const known = typeof streamId === 'string' ? (this.#streams.get(streamId) ?? []) : [];
        for (const event of outcome.value) this.#matches(event, known[Number(event.streamVersion) - 1], operation);
        return;
      }
      case 'readAll': {
        const outcome = await attempt(() => collectSome(this.store.readAll(operation.options as never)));
        if (this.#refusal(outcome, operation)) return;
        const given = (operation.options as { filter?: { eventTypes?: unknown; streamPrefixes?: unknown } } | undefined)?.filter;
        for (const event of outcome.value) {
          if (Array.isArray(given?.eventTypes) && !given.eventTypes.includes(event.type)) this.#fail('roundTripFailures', `readAll returned type ${show(event.type)} outside its filter`, operation);
          if (Array.isArray(given?.streamPrefixes) && !given.streamPrefixes.some((p: unknown) => typeof p === 'string' && event.streamId.startsWith(p))) {
            this.#fail('roundTripFailures', `readAll returned stream ${show(event.streamId)} outside its filter`, operation);
          }
          const known = this.#streams.get(event.streamId);
          if (known) this.#matches(event, known[Number(event.streamVersion) - 1], operation);
        }
        return;
      }
      case 'readCategory': {
        // null stands for the run's own category.
        const category = operation.category === null ? this.#category : operation.category;
        const outcome = await attempt(() => collectSome(this.store.readCategory(category as string, operation.options as never)));
        if (this.#refusal(outcome, operation)) return;
        for (const event of outcome.value) {
          if (typeof category !== 'string' || !event.streamId.startsWith(`${category}-`)) {
            this.#fail('roundTripFailures', `readCategory(${show(category)}) returned stream ${show(event.streamId)}`, operation);
          }
          const known = this.#streams.get(event.streamId);
          if (known) this.#matches(event, known[Number(event.streamVersion) - 1], operation);
        }
        return;
      }
      case 'subscribe': {
        const outcome = await attempt(async () => {
          const options = operation.options as Record<string, unknown> | null;
          const subscription = this.store.subscribe({ ...(typeof options === 'object' ? options : {}), handler: () => undefined } as never);
          await subscription.stop();
          await subscription.done;
        });
        this.#refusal(outcome, operation);
        return;
      }
      case 'checkpoint':
        return this.#checkpoint(operation);
      case 'streamInfo': {
        const streamId = this.#streamId(operation.stream);
        const outcome = await attempt(() => this.store.streamInfo(streamId as string));
        if (this.#refusal(outcome, operation)) return;
        const known = typeof streamId === 'string' ? (this.#streams.get(streamId)?.length ?? 0) : 0;
        if (outcome.value.version !== BigInt(known)) this.#fail('roundTripFailures', `streamInfo of ${show(streamId)} says version ${outcome.value.version}, the model ${known}`);
        return;
      }
      case 'setStreamMetadata': {
        // Streams of their own: metadata shapes what readStream shows, and the model does not follow it.
        const streamId = `${this.#category}meta-${operation.stream}`;
        const before = await this.store.streamInfo(streamId);
        const outcome = await attempt(() => this.store.setStreamMetadata(streamId, operation.metadata as never));
        const after = await this.store.streamInfo(streamId);
        if (this.#refusal(outcome, operation)) {
          if (!deepEqual(before.metadata, after.metadata)) this.#fail('changedByRefused', `a refused setStreamMetadata changed ${streamId}'s metadata`, operation);
          return;
        }
        const custom = (operation.metadata as { custom?: unknown }).custom;
        if (custom !== undefined && !deepEqual(after.metadata.custom, JSON.parse(JSON.stringify(custom)))) {
          this.#fail('roundTripFailures', `stream metadata custom read back as ${safeJson(after.metadata.custom)}`, operation);
        }
        return;
      }
    }
  }

  async #append(operation: Extract<Op, { kind: 'append' }>): Promise<void> {
    const streamId = this.#streamId(operation.stream);
    const known = typeof streamId === 'string' ? this.#streams.get(streamId) : undefined;
    const expected = operation.exact ? BigInt(known?.length ?? 0) : operation.expected;
    const given = operation.events as { list?: EventInput[]; value?: unknown };
    const events = given.list ? given.list.map((e) => this.#event(e)) : given.value;
    const outcome = await attempt(() => this.store.appendToStream(streamId as string, events as never, { expectedVersion: expected as never }));
    if (this.#refusal(outcome, operation)) {
      if (typeof streamId === 'string') await this.#unchanged(streamId, known ?? [], operation);
      return;
    }
    const result = outcome.value;
    if (result.idempotent) return this.#unchanged(streamId as string, known ?? [], operation);
    const id = streamId as string;
    const list = known ?? [];
    const inputs = events as Record<string, unknown>[];
    const recorded: Expected[] = result.events.map((event, i) => {
      const input = inputs[i]!;
      const eventId = typeof input.id === 'string' ? input.id.toLowerCase() : event.id;
      return {
        id: eventId,
        streamId: id,
        type: input.type as string,
        schemaVersion: (input.schemaVersion as number | undefined) ?? 1,
        data: JSON.parse(JSON.stringify(input.data)) as unknown,
        // No metadata (undefined, or null from JavaScript callers) is recorded as {}.
        metadata: input.metadata === undefined || input.metadata === null ? {} : (JSON.parse(JSON.stringify(input.metadata)) as unknown),
        correlationId: (input.correlationId as string | undefined) ?? eventId,
        causationId: (input.causationId as string | undefined) ?? null,
      };
    });
    result.events.forEach((event, i) => {
      this.#matches(event, recorded[i], operation);
      if (event.streamVersion !== BigInt(list.length + i + 1)) this.#fail('roundTripFailures', `version ${event.streamVersion} where ${list.length + i + 1} was due`, operation);
    });
    for (const event of recorded) {
      if (this.#idSet.has(event.id)) this.#fail('roundTripFailures', `id ${event.id} recorded a second time`, operation);
      this.#idSet.add(event.id);
    }
    this.figures.recorded += recorded.length;
    list.push(...recorded);
    this.#streams.set(id, list);
    this.#log.push(...recorded);
    for (const event of recorded) this.#ids.push(event.id);
    const read = await collect(this.store.readStream(id, { fromVersion: BigInt(list.length - recorded.length + 1) }));
    if (read.length !== recorded.length) this.#fail('roundTripFailures', `read back ${read.length} of ${recorded.length} appended events`, operation);
    read.forEach((event, i) => this.#matches(event, recorded[i], operation));
  }

  /** The stream's version and last event are the model's (cheap enough to ask after every refusal). */
  async #unchanged(streamId: string, known: readonly Expected[], operation: Op): Promise<void> {
    const info = await attempt(() => this.store.streamInfo(streamId));
    const last = await attempt(() => collect(this.store.readStream(streamId, { direction: 'backwards', maxCount: 1 })));
    if (!info.ok || !last.ok) return;
    const lastId = last.value[0]?.id;
    if (info.value.version !== BigInt(known.length) || lastId !== known.at(-1)?.id) {
      this.#fail('changedByRefused', `${show(streamId)} is at version ${info.value.version} (last ${show(lastId)}), the model at ${known.length}`, operation);
    }
  }

  #event(input: EventInput): unknown {
    const id = input.reuseId !== undefined && this.#ids.length > 0 ? this.#ids[input.reuseId % this.#ids.length] : input.id;
    return {
      type: input.type,
      ...(input.hasData && { data: input.data }),
      ...(id !== undefined && { id }),
      ...(input.metadata !== undefined && { metadata: input.metadata }),
      ...(input.schemaVersion !== undefined && { schemaVersion: input.schemaVersion }),
      ...(input.correlationId !== undefined && { correlationId: input.correlationId }),
      ...(input.causationId !== undefined && { causationId: input.causationId }),
    };
  }

  async #checkpoint(operation: Extract<Op, { kind: 'checkpoint' }>): Promise<void> {
    const id = this.#streamId(operation.id);
    if (operation.load) {
      const outcome = await attempt(() => this.store.checkpoints.load(id as string));
      if (this.#refusal(outcome, operation)) return;
      const known = typeof id === 'string' ? (this.#checkpoints.get(id) ?? null) : null;
      if (outcome.value !== known) this.#fail('roundTripFailures', `checkpoint ${show(id)} loaded as ${show(outcome.value)}, stored ${show(known)}`, operation);
      return;
    }
    const outcome = await attempt(() => this.store.checkpoints.store(id as string, operation.position as bigint));
    if (this.#refusal(outcome, operation)) {
      if (typeof id !== 'string') return;
      const now = await attempt(() => this.store.checkpoints.load(id));
      const known = this.#checkpoints.get(id) ?? null;
      if (now.ok && now.value !== known) this.#fail('changedByRefused', `a refused checkpoint store changed ${show(id)} to ${show(now.value)}`, operation);
      return;
    }
    this.#checkpoints.set(id as string, operation.position as bigint);
    const loaded = await this.store.checkpoints.load(id as string);
    if (loaded !== operation.position) this.#fail('roundTripFailures', `checkpoint stored as ${show(operation.position)} loaded as ${show(loaded)}`, operation);
  }

  /** Counts the outcome; true when the call was refused (whatever the error). */
  #refusal<T>(outcome: Outcome<T>, operation: Op): outcome is Refused {
    if (outcome.ok) {
      this.figures.accepted++;
      return false;
    }
    const { error } = outcome;
    if (error instanceof EventloomError) {
      this.figures.typed[error.code] = (this.figures.typed[error.code] ?? 0) + 1;
      if (STORE_FAILURES.has(error.code)) this.#problem('bad input reached the store', operation, error, 'storeFailures');
    } else {
      this.#problem('untyped error', operation, error, 'untyped');
    }
    return true;
  }

  #matches(actual: RecordedEvent | undefined, expected: Expected | undefined, operation: Op): void {
    if (!actual || !expected) {
      this.#fail('roundTripFailures', `an event the model does not know or is missing: ${show(actual?.id)}`, operation);
      return;
    }
    const picked = {
      id: actual.id,
      streamId: actual.streamId,
      type: actual.type,
      schemaVersion: actual.schemaVersion,
      data: actual.data,
      metadata: actual.metadata,
      correlationId: actual.correlationId,
      causationId: actual.causationId,
    };
    if (!deepEqual(picked, expected)) {
      this.#fail('roundTripFailures', `read back ${safeJson(picked).slice(0, 300)} for ${safeJson(expected).slice(0, 300)}`, operation);
    }
  }

  #fail(figure: 'changedByRefused' | 'roundTripFailures', message: string, operation?: Op): void {
    this.figures[figure]++;
    if (this.problems.length < 10) this.problems.push(`${message}${operation ? ` in ${safeJson(operation).slice(0, 400)}` : ''}`);
  }

  #problem(what: string, operation: Op, error: unknown, figure?: 'untyped' | 'storeFailures'): void {
    if (figure) this.figures[figure]++;
    else this.figures.roundTripFailures++;
    if (this.problems.length < 10) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : show(error);
      this.problems.push(`${what}: ${message.slice(0, 300)} in ${safeJson(operation).slice(0, 400)}`);
    }
  }
}

type Refused = { readonly ok: false; readonly error: unknown };
type Outcome<T> = { readonly ok: true; readonly value: T } | Refused;

async function attempt<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function collectSome(iterable: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const event of iterable) {
    out.push(event);
    if (out.length >= READ_LIMIT) break;
  }
  return out;
}

function sameIds(actual: readonly RecordedEvent[], expected: readonly Expected[]): boolean {
  return actual.length === expected.length && actual.every((event, i) => event.id === expected[i]!.id);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : safeJson(value);
}

function safeJson(value: unknown): string {
  try {
    const seen = new WeakSet<object>();
    return (
      JSON.stringify(value, (_key, v: unknown) => {
        if (typeof v === 'bigint') return `${v}n`;
        if (typeof v === 'symbol' || typeof v === 'function') return String(v);
        if (typeof v === 'string' && v.length > 80) return `${v.slice(0, 80)}…(${v.length})`;
        if (typeof v === 'object' && v !== null) {
          if (seen.has(v)) return '[circular]';
          seen.add(v);
        }
        return v;
      }) ?? String(value)
    );
  } catch {
    return '(unprintable)';
  }
}

function runsFromEnv(): number {
  const raw = process.env.EVENTLOOM_FUZZ_RUNS;
  const runs = raw === undefined ? DEFAULT_RUNS : Number(raw);
  return Number.isSafeInteger(runs) && runs > 0 ? runs : DEFAULT_RUNS;
}

export function fuzzTests(ctx: SuiteContext): void {
  describe('fuzz', () => {
    const runs = runsFromEnv();
    it(`refuses bad input with typed errors only, changes nothing when it refuses, and reads back what it accepts (${runs} random calls)`, async () => {
      const store = await ctx.store();
      const run = new FuzzRun(store, Math.max(100, Math.ceil(runs / FULL_CHECKS)));
      const seed = process.env.EVENTLOOM_FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.EVENTLOOM_FUZZ_SEED);
      await fc.assert(
        fc.asyncProperty(op, async (operation) => {
          await run.case(operation);
        }),
        { numRuns: runs, seed, endOnFailure: true },
      );
      await run.fullCheck(true);
      console.log(`fuzz ${ctx.options.name} (seed ${seed}): ${run.summary()}`);
      expect(run.problems).toEqual([]);
      expect({ untyped: run.figures.untyped, storeFailures: run.figures.storeFailures, changedByRefused: run.figures.changedByRefused, roundTripFailures: run.figures.roundTripFailures }).toEqual({
        untyped: 0,
        storeFailures: 0,
        changedByRefused: 0,
        roundTripFailures: 0,
      });
    }, 120_000 + runs * 100);
  });
}
