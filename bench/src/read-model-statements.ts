/**
 * Round trips of the PostgreSQL read-model store's own statements: a read of one document
 * (`read` + `get`: the serving version, then the document) and a lease renewal
 * (`tryAcquireLease`), one after another, in microseconds (p50, p99, mean).
 *
 *   node --import tsx bench/src/read-model-statements.ts [--runs 3000] [--module path/to/postgres/src/index.ts]
 *
 * `--module` loads another build of `@eventloom/postgres` (e.g. an older commit's sources) to
 * compare before and after. PostgreSQL from EVENTLOOM_POSTGRES_URL; a schema of its own, dropped after.
 */
import { parseArgs } from 'node:util';
import { projectionNamespace } from '@eventloom/core/adapter';
import pg from 'pg';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3000' }, module: { type: 'string' } } });
const runs = Number(values.runs);
const url = process.env['EVENTLOOM_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
type Module = typeof import('@eventloom/postgres');
const postgres = (await import(values.module ?? '@eventloom/postgres')) as Module;

const schema = `bench_rms_${process.pid}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });
const readModels = await postgres.openPostgresReadModels({ pool, schema });
const p = projectionNamespace('statements', 1);

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return `p50 ${Math.round(at(0.5))} µs, p99 ${Math.round(at(0.99))} µs, mean ${Math.round(mean)} µs`;
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - started) / 1_000);
  }
  return samples;
}

try {
  await readModels.transaction(async (tx) => {
    await tx.createState(p);
    await tx.setActiveVersion(p.name, p.version);
    await tx.handle(p).collection<{ n: number }>('docs').upsert('1', { n: 1 });
  });
  const read = await time(() => readModels.read(p.name, (view) => view.collection<{ n: number }>('docs').get('1')));
  const lease = await time(() => readModels.tryAcquireLease('bench-lease', 'owner-1', 30_000));
  console.log(`read + get:       ${summary(read)}`);
  console.log(`tryAcquireLease:  ${summary(lease)}`);
} finally {
  await readModels.close();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
