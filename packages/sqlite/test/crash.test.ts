/**
 * Crash test: a child process appends in a loop and reports every acknowledged append; it is
 * SIGKILLed mid-run, the file is reopened, and every acknowledged append must be there whole,
 * with no partial append anywhere. (SIGKILL tests atomicity and acknowledgement after COMMIT; the
 * OS still writes what it was handed, so power loss is what `durability: 'full'` adds on top.)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collect } from '@eventloom/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../src/index.js';
import type { AckedAppend, CrashEventData } from './fixtures/crash-writer.js';
import { tempFile, type TempFile } from './temp-file.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the writer until it has acknowledged `acks` appends, then SIGKILLs it; returns what it acknowledged. */
function runAndKill(filename: string, run: number, acks: number): Promise<AckedAppend[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', WRITER, filename, String(run)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: AckedAppend[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer acknowledged only ${acked.length} appends in 45 s; stderr: ${stderr}`));
    }, 45_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) acked.push(JSON.parse(line) as AckedAppend);
      if (!killed && acked.length >= acks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(acked);
      else reject(new Error(`writer exited on its own (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

describe('crash safety (SIGKILL mid-run)', () => {
  let file: TempFile | undefined;
  afterEach(() => file?.remove());

  it('keeps every acknowledged append whole and no partial append, across three kills', async () => {
    file = tempFile();
    const acknowledged: AckedAppend[] = [];
    for (let run = 1; run <= 3; run++) {
      acknowledged.push(...(await runAndKill(file.filename, run, 150 * run)));

      const store = openSqliteEventStore({ filename: file.filename });
      try {
        const log = await collect(store.readAll<{ type: 'CrashTested'; data: CrashEventData }>());
        const byId = new Map(log.map((event) => [event.id, event]));

        for (const ack of acknowledged) {
          ack.ids.forEach((id, i) => {
            const event = byId.get(id);
            expect(event, `acknowledged event ${id} of ${ack.streamId}`).toBeDefined();
            expect(event!.streamId).toBe(ack.streamId);
            expect(event!.streamVersion).toBe(BigInt(ack.firstVersion) + BigInt(i));
          });
        }

        // No partial append: the events of each append are all there, contiguous in their stream.
        const appends = new Map<string, typeof log>();
        for (const event of log) {
          const group = appends.get(event.data.append) ?? [];
          group.push(event);
          appends.set(event.data.append, group);
        }
        for (const [append, events] of appends) {
          expect(events.length, `events of append ${append}`).toBe(events[0]!.data.of);
          events.forEach((event, i) => {
            expect(event.data.index).toBe(i);
            expect(event.streamVersion).toBe(events[0]!.streamVersion + BigInt(i));
            expect(event.streamId).toBe(events[0]!.streamId);
          });
        }

        // Streams are numbered 1..n without gaps, and the streams table agrees.
        const streams = new Map<string, bigint[]>();
        for (const event of log) streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event.streamVersion]);
        for (const [streamId, versions] of streams) {
          expect(versions).toEqual(versions.map((_, i) => BigInt(i + 1)));
          expect((await store.streamInfo(streamId)).version).toBe(BigInt(versions.length));
        }
        expect(log.length).toBeGreaterThanOrEqual(acknowledged.reduce((n, ack) => n + ack.ids.length, 0));
        expect(store.database.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        await store.close();
      }
    }
  }, 180_000);
});
