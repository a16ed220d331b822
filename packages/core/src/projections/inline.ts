/**
 * The rule of inline projections, for store adapters: a projection registered to run inside an
 * append's transaction applies the append's events only on top of an up-to-date checkpoint. When
 * events it handles lie between its checkpoint and the append (it was added after them, it is
 * still being built, or another process appended without it), or its state is not there to move
 * (dropped for a rebuild, or held by a runner), the append goes through untouched and a
 * `ProjectionRunner` running the same projection catches up. Adapters supply the storage: the
 * state read (with whatever lock they take), the look for unseen events, and the transaction.
 */
import type { Position, RecordedEvent } from '../envelope/event.js';
import type { AnyProjection } from './projection.js';
import type { ProjectionHandle, ReadModelTransaction } from './read-model-store.js';

/** Whether an event is one the projection handles: one of its types, in one of its categories. */
export function inlineEventFilter<H extends ProjectionHandle>(projection: AnyProjection<H>): (event: RecordedEvent) => boolean {
  const types = new Set(projection.eventTypes);
  const prefixes = projection.filter.streamPrefixes;
  return (event) => types.has(event.type) && (prefixes === undefined || prefixes.some((prefix) => event.streamId.startsWith(prefix)));
}

/** The appends (committing together, in order) as an inline projection sees them. */
export interface InlineGroup {
  /** Per append, the events the projection handles. */
  readonly relevant: readonly (readonly RecordedEvent[])[];
  /** The first and last appends with events it handles. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** The first event it handles: everything it handles before this must be applied already. */
  readonly from: Position;
  /**
   * Where its checkpoint moves: the last event of the last append it handles, as one append at a
   * time would leave it (later appends of the group are none of its business).
   */
  readonly checkpoint: Position;
}

/** The group as `handles` sees it, or `undefined` when the projection handles none of its events. */
export function inlineGroup(appends: readonly (readonly RecordedEvent[])[], handles: (event: RecordedEvent) => boolean): InlineGroup | undefined {
  const relevant = appends.map((events) => events.filter(handles));
  const firstIndex = relevant.findIndex((events) => events.length > 0);
  if (firstIndex < 0) return undefined;
  const lastIndex = relevant.findLastIndex((events) => events.length > 0);
  return { relevant, firstIndex, lastIndex, from: relevant[firstIndex]![0]!.position, checkpoint: appends[lastIndex]!.at(-1)!.position };
}

/** The projection's state as an inline projection needs it. */
export interface InlineState {
  readonly checkpoint: Position | null;
  /** The position of the event whose failure stopped it (a runner's), cleared once the checkpoint passes it. */
  readonly failedAt: Position | null;
}

/**
 * Why the projection leaves the group to a runner: `missing` (no state to move: dropped, or held
 * by a runner), `behind` (events it handles lie between its checkpoint and the group, or the
 * checkpoint is already past it). `undefined`: it applies.
 */
export type InlineSkip = 'missing' | 'behind';

/** `unseen(after, before)`: whether an event the projection handles lies strictly between the two positions. */
export function inlineSkip(state: InlineState | undefined | null, group: InlineGroup, unseen: (after: Position, before: Position) => boolean): InlineSkip | undefined {
  if (!state) return 'missing';
  const from = state.checkpoint ?? 0n;
  if (from >= group.from || unseen(from, group.from)) return 'behind';
  return undefined;
}

/**
 * Applies the group's events in order in `tx`, moves the checkpoint and clears a failure it has
 * passed. A handler that throws on an event of append `index` throws what `failure(index, cause)`
 * returns, and the transaction rolls back.
 */
export async function applyInline<H extends ProjectionHandle>(
  tx: ReadModelTransaction<H>,
  projection: AnyProjection<H>,
  group: InlineGroup,
  state: InlineState,
  failure: (index: number, cause: unknown) => unknown,
): Promise<void> {
  const handle = tx.handle(projection.namespace);
  for (let i = group.firstIndex; i <= group.lastIndex; i++) {
    for (const event of group.relevant[i]!) {
      try {
        await projection.apply(event, handle);
      } catch (cause) {
        throw failure(i, cause);
      }
    }
  }
  const { namespace } = projection.namespace;
  await tx.setCheckpoint(namespace, group.checkpoint);
  if (state.failedAt !== null && group.checkpoint >= state.failedAt) await tx.setFailure(namespace, null);
}
