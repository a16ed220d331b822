/** Snapshots: a stream's folded state at a version, so long streams load without a full replay. */
import type { StreamVersion } from '../envelope/event.js';

export interface Snapshot<State = unknown> {
  readonly streamId: string;
  /** Version of the last event folded into `state`. */
  readonly version: StreamVersion;
  /** Version of the state's shape; a snapshot whose schemaVersion differs from the decider's is ignored. */
  readonly schemaVersion: number;
  /** JSON. */
  readonly state: State;
  /** ISO time the snapshot was taken. */
  readonly time: string;
}

export interface SnapshotStore {
  /** The latest snapshot of the stream, or null. */
  load<State>(streamId: string): Promise<Snapshot<State> | null>;
  /** Keeps `snapshot` as the stream's latest (replacing an older one). */
  save<State>(snapshot: Snapshot<State>): Promise<void>;
  delete(streamId: string): Promise<void>;
}

/** Snapshots in a Map: for tests and the in-memory store. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly #snapshots = new Map<string, Snapshot>();

  async load<State>(streamId: string): Promise<Snapshot<State> | null> {
    const snapshot = this.#snapshots.get(streamId);
    return snapshot ? (structuredClone(snapshot) as Snapshot<State>) : null;
  }

  async save<State>(snapshot: Snapshot<State>): Promise<void> {
    const current = this.#snapshots.get(snapshot.streamId);
    if (current && current.version > snapshot.version) return;
    this.#snapshots.set(snapshot.streamId, structuredClone(snapshot));
  }

  async delete(streamId: string): Promise<void> {
    this.#snapshots.delete(streamId);
  }
}
