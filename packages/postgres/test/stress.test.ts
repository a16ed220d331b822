/**
 * 8 writer processes × 2,000 appends, each append's transaction held open a random few
 * milliseconds and one in ten rolled back, against one live subscriber: it must see every
 * committed event exactly once, in global order, and none of the rolled-back ones.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collect, type RecordedEvent } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionString, openTestStore, postgresUrl, type TestStore } from './support.js';

const WRITERS = 8;
const APPENDS = 2_000;
const writerScript = fileURLToPath(new URL('./fixtures/stress-writer.ts', import.meta.url));

interface WriterReport {
  readonly committed: string[];
  readonly rolledBack: string[];
}

function runWriter(schema: string, writer: number): Promise<WriterReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=eventloom-source', '--import', 'tsx', writerScript, connectionString, schema, String(writer), String(APPENDS)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as WriterReport);
      else reject(new Error(`writer ${writer} exited with ${code}: ${err}`));
    });
  });
}

describe.skipIf(!postgresUrl)('stress: concurrent writer processes against one subscriber', () => {
  let test: TestStore;
  beforeAll(async () => {
    test = await openTestStore();
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it(`${WRITERS} processes × ${APPENDS} appends with delays and rollbacks: every commit delivered once, in order`, async () => {
    const { store, schema } = test;
    const delivered: RecordedEvent[] = [];
    const subscription = store.subscribe({ batchSize: 500, handler: (e) => void delivered.push(e) });
    try {
      const reports = await Promise.all(Array.from({ length: WRITERS }, (_, w) => runWriter(schema, w)));
      const committed = new Set(reports.flatMap((r) => r.committed));
      const rolledBack = new Set(reports.flatMap((r) => r.rolledBack));
      expect(rolledBack.size).toBeGreaterThan(0);
      await subscription.waitFor(await store.headPosition(), 60_000);

      const ids = delivered.map((e) => e.id);
      expect(ids.length).toBe(committed.size);
      expect(new Set(ids)).toEqual(committed);
      expect(ids.filter((id) => rolledBack.has(id))).toEqual([]);
      for (let i = 1; i < delivered.length; i++) {
        if (delivered[i]!.position <= delivered[i - 1]!.position) throw new Error(`out of order at ${i}`);
      }
      const versions = new Map<string, bigint>();
      for (const event of delivered) {
        if (event.streamVersion !== (versions.get(event.streamId) ?? 0n) + 1n) {
          throw new Error(`${event.streamId} v${event.streamVersion} delivered after v${versions.get(event.streamId)}`);
        }
        versions.set(event.streamId, event.streamVersion);
      }
      expect((await collect(store.readAll({ batchSize: 1000 }))).map((e) => e.id)).toEqual(ids);
    } finally {
      await subscription.stop();
    }
  }, 180_000);
});
