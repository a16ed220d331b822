/** Snapshots in the store's schema: core's `SnapshotStore`, one row per stream and tenant. */
import { InvalidArgumentError, type Snapshot, type SnapshotStore } from '@eventloom/core';
import { assertJson, assertStreamId } from '@eventloom/core/adapter';
import type { StoreDatabase } from './database.js';
import { assertStorableBigint, assertStorableInteger } from './limits.js';
import { findUnstorable } from './storable-text.js';

export class PostgresSnapshotStore implements SnapshotStore {
  readonly #db: StoreDatabase;
  readonly #assertOpen: () => void;

  constructor(db: StoreDatabase, assertOpen: () => void) {
    this.#db = db;
    this.#assertOpen = assertOpen;
  }

  async load<State>(streamId: string): Promise<Snapshot<State> | null> {
    this.#assertOpen();
    assertStreamId(streamId);
    const [row] = await this.#db.rows(this.#db.queries.loadSnapshot, [streamId], { operation: `loading the snapshot of ${streamId}` });
    if (!row) return null;
    const [version, schemaVersion, state, time] = row as [bigint, number, State, string];
    return { streamId, version, schemaVersion, state, time };
  }

  async save<State>(snapshot: Snapshot<State>): Promise<void> {
    this.#assertOpen();
    assertStreamId(snapshot?.streamId, 'snapshot.streamId');
    assertStorableBigint(snapshot.version, 'snapshot.version');
    assertStorableInteger(snapshot.schemaVersion, 'snapshot.schemaVersion', -(2 ** 31));
    if (typeof snapshot.time !== 'string') throw new InvalidArgumentError('snapshot.time', 'must be an ISO time string');
    let json: string;
    try {
      assertJson(snapshot.state, 'snapshot.state');
      findUnstorable(snapshot.state, 'snapshot.state');
      json = JSON.stringify(snapshot.state);
    } catch (error) {
      throw new InvalidArgumentError('snapshot.state', (error as Error).message);
    }
    await this.#db.rows(
      this.#db.queries.saveSnapshot,
      [snapshot.streamId, snapshot.version.toString(), snapshot.schemaVersion, json, snapshot.time],
      { operation: `saving the snapshot of ${snapshot.streamId}`, writes: true },
    );
  }

  async delete(streamId: string): Promise<void> {
    this.#assertOpen();
    assertStreamId(streamId);
    await this.#db.rows(this.#db.queries.deleteSnapshot, [streamId], { operation: `deleting the snapshot of ${streamId}`, writes: true });
  }
}
