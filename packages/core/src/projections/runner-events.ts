/** What a projection runner reports: statuses, lifecycle events, lag. */
import type { Position } from '../envelope/event.js';
import type { ProjectionNamespace } from './namespace.js';
import type { ProjectionProgress } from './progress.js';
import type { ProjectionDeadLetter, ProjectionFailure } from './read-model-store.js';

/**
 * - `starting`: preparing; `standby`: another process holds the lease;
 * - `catching_up` / `live`: applying, behind the head / at it;
 * - `failed`: stopped on an event by the failure policy (see `failure`), or on an error retrying
 *   cannot fix (see `error`), until restarted;
 * - `superseded`: a newer version serves, this one no longer runs; `stopped`: stopped by its owner.
 */
export type ProjectionStatus = 'starting' | 'standby' | 'catching_up' | 'live' | 'failed' | 'superseded' | 'stopped';

export type ProjectionRunnerEvent =
  | { readonly type: 'progress'; readonly projection: ProjectionNamespace; readonly progress: ProjectionProgress }
  | { readonly type: 'leading'; readonly projection: ProjectionNamespace }
  | { readonly type: 'standby'; readonly projection: ProjectionNamespace }
  | {
      readonly type: 'retrying';
      readonly projection: ProjectionNamespace;
      readonly position: Position;
      readonly eventId: string;
      /** Attempts so far, all failed. */
      readonly attempts: number;
      readonly delayMs: number;
      readonly error: unknown;
    }
  | { readonly type: 'failed'; readonly projection: ProjectionNamespace; readonly failure: ProjectionFailure }
  | { readonly type: 'dead-lettered'; readonly projection: ProjectionNamespace; readonly deadLetter: ProjectionDeadLetter }
  /** `projection` now serves its name; `from` is the version that served before (`null`: none). */
  | { readonly type: 'switched'; readonly projection: ProjectionNamespace; readonly from: number | null }
  | { readonly type: 'superseded'; readonly projection: ProjectionNamespace; readonly activeVersion: number }
  /**
   * Something other than one event failed. A transient store error (`STORE_UNAVAILABLE`,
   * `STORE_BUSY`) is retried with backoff (`willRetry`); any other stops the projection (status
   * `failed`, the error in its status) until it is restarted.
   */
  | { readonly type: 'error'; readonly projection: ProjectionNamespace; readonly error: unknown; readonly willRetry: boolean };

/** One projection version as its runner sees it. */
export interface ProjectionStatusInfo {
  readonly projection: ProjectionNamespace;
  readonly status: ProjectionStatus;
  /** Last position applied (committed); `null` before the first. */
  readonly checkpoint: Position | null;
  readonly failure: ProjectionFailure | null;
  /** The error that stopped the projection outside any one event (status `failed` with no `failure`); else null. */
  readonly error: unknown;
  /** This runner holds the projection's lease. */
  readonly leading: boolean;
  /** Readers see this version. */
  readonly serving: boolean;
}

/** How far a projection's serving version is behind the head of the log. */
export interface ProjectionLag {
  readonly projection: ProjectionNamespace;
  readonly checkpoint: Position | null;
  readonly head: Position;
  /**
   * Events in the log between the checkpoint and the head (of every type, so an upper bound of
   * what the projection has left to apply); counted up to 10,000, so at least that many when it says so.
   */
  readonly events: number;
  /** How long the oldest event not yet covered has been waiting; 0 when caught up. */
  readonly seconds: number;
  readonly failure: ProjectionFailure | null;
}
