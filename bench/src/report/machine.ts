/** The machine and software a run measured, for RESULTS.md. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { errorText } from '../workloads/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const PACKAGES = [
  'better-sqlite3',
  'pg',
  'sqlite3',
  '@event-driven-io/emmett',
  '@event-driven-io/emmett-sqlite',
  '@event-driven-io/emmett-postgresql',
  '@event-driven-io/dumbo',
  '@eventloom/core',
  '@eventloom/sqlite',
  '@eventloom/postgres',
] as const;

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** SQLite inside better-sqlite3 (raw anchor and Eventloom). */
  readonly sqlite: string;
  /** SQLite inside node-sqlite3, which Emmett's SQLite store uses. */
  readonly sqliteForEmmett: string;
  readonly postgres: string;
  readonly packages: Readonly<Record<string, string>>;
}

export async function machineInfo(postgresUrl: string | undefined): Promise<MachineInfo> {
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) packages[name] = packageVersion(name);
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    sqlite: sqliteVersion(),
    sqliteForEmmett: await emmettSqliteVersion(),
    postgres: postgresUrl ? await postgresVersion(postgresUrl) : 'not measured',
    packages,
  };
}

function packageVersion(name: string): string {
  try {
    const json = JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version?: string };
    return json.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}

async function emmettSqliteVersion(): Promise<string> {
  try {
    const sqlite3 = (await import('sqlite3')).default as { VERSION?: string };
    return sqlite3.VERSION ?? 'unknown';
  } catch (error) {
    return `unknown (${errorText(error)})`;
  }
}

async function postgresVersion(connectionString: string): Promise<string> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string; sync: string; fsync: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sync, current_setting('fsync') AS fsync",
    );
    const row = rows[0]!;
    return `${row.v} (fsync=${row.fsync}, synchronous_commit=${row.sync})`;
  } catch (error) {
    return `unreachable (${errorText(error)})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}
