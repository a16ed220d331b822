/**
 * W8's process A side: starts process B (`runner-process.ts`, a ProjectionRunner on the same
 * store) and, per order, appends it, waits with `readModels.waitForPosition` for the position the
 * append returned, and reads the order's document — what a web process that does not run the
 * projection does for read-your-writes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { EventStore, ReadModelStore } from '@eventloom/core';
import { orderCreated } from '../payload.js';
import type { ReadYourWrites, TargetResource } from '../target.js';
import { rywOrders, rywProjection } from './projection.js';

const READY_TIMEOUT_MS = 30_000;
const WAIT_TIMEOUT_MS = 5_000;

export async function startReadYourWrites(resource: TargetResource, eventStore: EventStore, readModels: ReadModelStore): Promise<ReadYourWrites> {
  const script = fileURLToPath(new URL('./runner-process.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, JSON.stringify(resource)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the projection process exited with ${code} before it was ready`)));
    setTimeout(() => reject(new Error(`the projection process was not ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS).unref();
  });
  await ready;
  return {
    async appendAndRead(streamId, n) {
      const result = await eventStore.appendToStream(streamId, [orderCreated(n)], { expectedVersion: 'no_stream' });
      await readModels.waitForPosition(rywProjection.name, result.position, { timeoutMs: WAIT_TIMEOUT_MS });
      const document = await readModels.read(rywProjection.name, (view) => view.collection(rywOrders).get(streamId));
      return document !== null;
    },
    async stop() {
      if (child.exitCode === null) {
        child.stdin!.end();
        const exited = once(child, 'exit');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
