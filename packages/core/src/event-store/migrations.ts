/**
 * The rules of a storage schema's migrations, for store adapters: versions run 1, 2, 3… without
 * gaps; storage written by newer code is refused before anything is changed; each migration
 * applies once, is recorded as it applies, and is looked at again inside its own step (another
 * process may have applied it meanwhile). Adapters supply the storage: how the version is read,
 * what a step's transaction is, how a migration is applied and recorded.
 */
import { InvalidArgumentError } from '../envelope/errors.js';

export interface VersionedMigration {
  readonly version: number;
  readonly name: string;
}

/** What a synchronous storage (SQLite) supplies. */
export interface MigrationStorage<M extends VersionedMigration> {
  /** The recorded version by reading alone (0 when never migrated): nothing is changed before a newer one is refused. */
  found(): number;
  /** Runs once there is something to apply, before the first step (e.g. creates the table migrations are recorded in). */
  begin?(): void;
  /** Runs `work` as one step (its own transaction, or part of the caller's). */
  step(work: () => void): void;
  /** The recorded version now, inside a step. */
  current(): number;
  /** Applies `migration` and records it, in the step's transaction. */
  apply(migration: M): void;
}

/** What an asynchronous storage (PostgreSQL) supplies; see `MigrationStorage`. */
export interface AsyncMigrationStorage<M extends VersionedMigration> {
  found(): Promise<number>;
  begin?(): Promise<void>;
  step(work: () => Promise<void>): Promise<void>;
  current(): Promise<number>;
  apply(migration: M): Promise<void>;
}

/** A list of migrations checked once; `newer` makes the error that refuses storage at a version above the last. */
export class MigrationPlan<M extends VersionedMigration> {
  readonly latest: number;

  constructor(
    readonly migrations: readonly M[],
    private readonly newer: (found: number, latest: number) => Error,
  ) {
    migrations.forEach((migration, i) => {
      if (migration.version !== i + 1) {
        throw new InvalidArgumentError('migrations', `${migration.name} has version ${migration.version}; versions must run 1, 2, 3… without gaps`);
      }
    });
    this.latest = migrations.at(-1)?.version ?? 0;
  }

  /** Refuses storage newer than this plan; otherwise the migrations still to apply over `found`, in order. */
  pending(found: number): readonly M[] {
    this.assertNotNewer(found);
    return this.migrations.filter((migration) => migration.version > found);
  }

  /** Inside a step: whether `migration` is still due at `current`; refuses newer storage. */
  due(migration: M, current: number): boolean {
    this.assertNotNewer(current);
    return current < migration.version;
  }

  assertNotNewer(version: number): void {
    if (version > this.latest) throw this.newer(version, this.latest);
  }
}

/** Brings synchronous storage up to `plan`; returns the versions applied by this call. */
export function runMigrations<M extends VersionedMigration>(plan: MigrationPlan<M>, storage: MigrationStorage<M>): number[] {
  const pending = plan.pending(storage.found());
  if (pending.length === 0) return [];
  storage.begin?.();
  const applied: number[] = [];
  for (const migration of pending) {
    storage.step(() => {
      if (!plan.due(migration, storage.current())) return;
      storage.apply(migration);
      applied.push(migration.version);
    });
  }
  return applied;
}

/** Brings asynchronous storage up to `plan`; returns the versions applied by this call. */
export async function runMigrationsAsync<M extends VersionedMigration>(plan: MigrationPlan<M>, storage: AsyncMigrationStorage<M>): Promise<number[]> {
  const pending = plan.pending(await storage.found());
  if (pending.length === 0) return [];
  await storage.begin?.();
  const applied: number[] = [];
  for (const migration of pending) {
    await storage.step(async () => {
      if (!plan.due(migration, await storage.current())) return;
      await storage.apply(migration);
      applied.push(migration.version);
    });
  }
  return applied;
}
