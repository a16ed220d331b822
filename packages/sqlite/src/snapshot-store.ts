/** Core's `SnapshotStore` on the `snapshots` table: a stream's latest folded state, beside its events. */
import {
  assertJson,
  assertStreamId,
  InvalidArgumentError,
  InvalidEventError,
  type Snapshot,
  type SnapshotStore,
} from '@eventloom/core';
import { storeError } from './sqlite-errors.js';
import type { Statements } from './statements.js';

export class SqliteSnapshotStore implements SnapshotStore {
  constructor(
    private readonly statements: Statements,
    private readonly assertOpen: () => void,
  ) {}

  async load<State>(streamId: string): Promise<Snapshot<State> | null> {
    this.assertOpen();
    assertStreamId(streamId);
    const row = this.statements.loadSnapshot.get(streamId);
    if (row === undefined) return null;
    const [version, schemaVersion, state, time] = row;
    return { streamId, version: BigInt(version), schemaVersion, state: JSON.parse(state) as State, time };
  }

  async save<State>(snapshot: Snapshot<State>): Promise<void> {
    this.assertOpen();
    const { streamId, version, schemaVersion, state, time } = checkSnapshot(snapshot);
    try {
      this.statements.saveSnapshot.run(streamId, version, schemaVersion, JSON.stringify(state), time);
    } catch (error) {
      throw storeError(error, `saving the snapshot of ${streamId}`, 'nothing');
    }
  }

  async delete(streamId: string): Promise<void> {
    this.assertOpen();
    assertStreamId(streamId);
    try {
      this.statements.deleteSnapshot.run(streamId);
    } catch (error) {
      throw storeError(error, `deleting the snapshot of ${streamId}`, 'nothing');
    }
  }
}

function checkSnapshot<State>(snapshot: Snapshot<State>): Snapshot<State> {
  if (snapshot === null || typeof snapshot !== 'object') throw new InvalidArgumentError('snapshot', 'must be an object');
  assertStreamId(snapshot.streamId, 'snapshot.streamId');
  if (typeof snapshot.version !== 'bigint' || snapshot.version < 0n) {
    throw new InvalidArgumentError('snapshot.version', 'must be a non-negative bigint stream version');
  }
  if (!Number.isSafeInteger(snapshot.schemaVersion) || snapshot.schemaVersion < 1) {
    throw new InvalidArgumentError('snapshot.schemaVersion', `must be a positive integer, got ${String(snapshot.schemaVersion)}`);
  }
  if (typeof snapshot.time !== 'string' || Number.isNaN(Date.parse(snapshot.time))) {
    throw new InvalidArgumentError('snapshot.time', 'must be an ISO 8601 time, e.g. new Date().toISOString()');
  }
  if (snapshot.state === undefined) throw new InvalidArgumentError('snapshot.state', 'is missing; use null for no state');
  try {
    assertJson(snapshot.state, 'snapshot.state');
  } catch (error) {
    if (error instanceof InvalidEventError) throw new InvalidArgumentError(error.field, error.reason);
    throw error;
  }
  return snapshot;
}
