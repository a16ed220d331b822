/**
 * Where each target keeps its data for one run: a fresh SQLite file per target in a temporary
 * directory, or a fresh PostgreSQL schema per target. All of it is removed when the run ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropPostgresEventStore } from '@eventloom/postgres';
import pg from 'pg';
import type { Backend, TargetDescriptor, TargetResource } from '../target.js';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** As many connections as W3 has writers, for every PostgreSQL target alike. */
export const POSTGRES_POOL_SIZE = 16;

export interface BackendResources {
  resourceFor(target: TargetDescriptor): TargetResource;
  cleanup(): Promise<void>;
}

export function postgresUrl(): string {
  return process.env.EVENTLOOM_POSTGRES_URL || DEFAULT_POSTGRES_URL;
}

/** A tag unique to this run, safe inside file and schema names. */
export function runTag(): string {
  return `${Date.now().toString(36)}${process.pid.toString(36)}`;
}

export async function openResources(backend: Backend, tag: string, targets: readonly TargetDescriptor[]): Promise<BackendResources> {
  return backend === 'sqlite' ? sqliteResources(tag) : postgresResources(tag, targets);
}

function sqliteResources(tag: string): BackendResources {
  // The OS temp dir, not a RAM disk assumption: on tmpfs fsync costs nothing and the durable figures would lie.
  const dir = mkdtempSync(join(tmpdir(), `eventloom-bench-${tag}-`));
  return {
    resourceFor: (target) => ({ backend: 'sqlite', filename: join(dir, `${target.id}.db`) }),
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresResources(tag: string, targets: readonly TargetDescriptor[]): Promise<BackendResources> {
  const connectionString = postgresUrl();
  const schemaOf = (target: TargetDescriptor): string => `bench_${tag}_${target.id.replace(/-/g, '_')}`;
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    for (const target of targets) await admin.query(`CREATE SCHEMA "${schemaOf(target)}"`);
  } finally {
    await admin.end();
  }
  return {
    resourceFor: (target) => ({ backend: 'postgres', connectionString, schema: schemaOf(target), poolSize: POSTGRES_POOL_SIZE }),
    async cleanup() {
      // Eventloom's store also made a role for its sessions; its own drop removes both.
      for (const target of targets) {
        if (target.id === 'eventloom-postgres') await dropPostgresEventStore({ connectionString, schema: schemaOf(target) });
      }
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        for (const target of targets) await client.query(`DROP SCHEMA IF EXISTS "${schemaOf(target)}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
