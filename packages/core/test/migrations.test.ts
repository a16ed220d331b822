/** The migration rules every adapter's runner follows (core's MigrationPlan and runner), on a storage kept in an array. */
import { InvalidArgumentError } from '@eventloom/core';
import { MigrationPlan, runMigrations, runMigrationsAsync, type VersionedMigration } from '@eventloom/core/adapter';
import { describe, expect, it } from 'vitest';

const migrations: VersionedMigration[] = [
  { version: 1, name: 'one' },
  { version: 2, name: 'two' },
  { version: 3, name: 'three' },
];
const newer = (found: number, latest: number): Error => new Error(`at ${found}, newer than ${latest}`);

/** Records every call, so a test sees what was changed and in which step. */
function storage(start: number[], onStep?: (recorded: number[]) => void) {
  const recorded = [...start];
  const calls: string[] = [];
  const current = (): number => Math.max(0, ...recorded);
  return {
    recorded,
    calls,
    sync: {
      found: () => (calls.push('found'), current()),
      begin: () => void calls.push('begin'),
      step: (work: () => void) => {
        calls.push('step');
        onStep?.(recorded);
        work();
      },
      current,
      apply: (migration: VersionedMigration) => {
        calls.push(`apply ${migration.version}`);
        recorded.push(migration.version);
      },
    },
  };
}

describe('migration rules', () => {
  it('applies the pending versions in order, one step each, and says which', () => {
    const s = storage([1]);
    expect(runMigrations(new MigrationPlan(migrations, newer), s.sync)).toEqual([2, 3]);
    expect(s.calls).toEqual(['found', 'begin', 'step', 'apply 2', 'step', 'apply 3']);
    expect(s.recorded).toEqual([1, 2, 3]);
  });

  it('an up-to-date storage is only read', () => {
    const s = storage([1, 2, 3]);
    expect(runMigrations(new MigrationPlan(migrations, newer), s.sync)).toEqual([]);
    expect(s.calls).toEqual(['found']);
  });

  it('refuses a newer storage before changing anything', () => {
    const s = storage([1, 2, 3, 4]);
    expect(() => runMigrations(new MigrationPlan(migrations, newer), s.sync)).toThrow('at 4, newer than 3');
    expect(s.calls).toEqual(['found']);
    expect(s.recorded).toEqual([1, 2, 3, 4]);
  });

  it('skips a step another process applied meanwhile, and refuses one it took past this code', () => {
    const raced = storage([], (recorded) => {
      if (recorded.length === 0) recorded.push(1);
    });
    expect(runMigrations(new MigrationPlan(migrations, newer), raced.sync)).toEqual([2, 3]);
    expect(raced.recorded).toEqual([1, 2, 3]);
    const overtaken = storage([], (recorded) => {
      if (recorded.length === 0) recorded.push(1, 2, 3, 4);
    });
    expect(() => runMigrations(new MigrationPlan(migrations, newer), overtaken.sync)).toThrow('at 4, newer than 3');
    expect(overtaken.calls.filter((c) => c.startsWith('apply'))).toEqual([]);
  });

  it('versions must run 1, 2, 3… without gaps', () => {
    expect(() => new MigrationPlan([{ version: 2, name: 'two' }], newer)).toThrow(InvalidArgumentError);
    expect(() => new MigrationPlan([migrations[0]!, { version: 3, name: 'three' }], newer)).toThrow(/three has version 3; versions must run 1, 2, 3… without gaps/);
  });

  it('the asynchronous runner follows the same rules', async () => {
    const s = storage([1]);
    const plan = new MigrationPlan(migrations, newer);
    const applied = await runMigrationsAsync(plan, {
      found: async () => s.sync.found(),
      step: async (work) => {
        s.calls.push('step');
        await work();
      },
      current: async () => s.sync.current(),
      apply: async (migration) => s.sync.apply(migration),
    });
    expect(applied).toEqual([2, 3]);
    expect(s.calls).toEqual(['found', 'step', 'apply 2', 'step', 'apply 3']);
    await expect(runMigrationsAsync(plan, { ...s.sync, found: async () => 9, step: async () => undefined, current: async () => 9, apply: async () => undefined, begin: undefined })).rejects.toThrow(
      'at 9, newer than 3',
    );
  });
});
