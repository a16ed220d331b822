/** Core's `SnapshotStore` on the `snapshots` table: a stream's latest folded state, beside its events. */
import { InvalidArgumentError, InvalidEventError, type Snapshot, type SnapshotStore } from '@eventloom/core';
import { assertJson, assertStreamId } from '@eventloom/core/adapter';
import { retryWhileBusy } from './busy.js';
import { parseStored, typedStoreError } from './sqlite-errors.js';
import type { Statements } from './statements.js';
import type { StoreWrites } from './store-writes.js';

export class SqliteSnapshotStore implements SnapshotStore {
  constructor(
    private readonly statements: Statements,
    private readonly assertOpen: () => void,
    private readonly writes: StoreWrites,
  ) {}

  async load<State>(streamId: string): Promise<Snapshot<State> | null> {
    this.assertOpen();
    assertStreamId(streamId);
    const row = await this.#run(`loading the snapshot of ${streamId}`, () => this.statements.loadSnapshot.get(streamId));
    if (row === undefined) return null;
    const [version, schemaVersion, state, time] = row;
    const parsed = parseStored<State>(state, this.writes.filename, `the snapshot of ${streamId}`);
    return { streamId, version: BigInt(version), schemaVersion, state: parsed, time };
  }

  async save<State>(snapshot: Snapshot<State>): Promise<void> {
    this.assertOpen();
    this.writes.refuseInsideHandler('snapshots.save');
    const { streamId, version, schemaVersion, state, time } = checkSnapshot(snapshot);
    const json = JSON.stringify(state);
    await this.#run(`saving the snapshot of ${streamId}`, () => this.statements.saveSnapshot.run(streamId, version, schemaVersion, json, time));
  }

  async delete(streamId: string): Promise<void> {
    this.assertOpen();
    this.writes.refuseInsideHandler('snapshots.delete');
    assertStreamId(streamId);
    await this.#run(`deleting the snapshot of ${streamId}`, () => this.statements.deleteSnapshot.run(streamId));
  }

  /** One statement: waits out another process's lock, and fails only with typed errors. */
  async #run<T>(doing: string, work: () => T): Promise<T> {
    try {
      return await retryWhileBusy(doing, this.writes.busyTimeoutMs, work, this.writes.connection);
    } catch (error) {
      throw typedStoreError(error, doing, this.writes.filename);
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
