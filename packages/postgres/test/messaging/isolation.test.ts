/**
 * What the queue promises beyond one process: tenants apart, sends sharing commits, other
 * processes woken by NOTIFY, a killed consumer's message back after its lease, a lost server waited out.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresTransportDriver } from '../../src/messaging/index.js';
import { adminClient, connectionString, ns, postgresUrl, prepared, receiveWithin, receiverOptions, testDrivers, type TestDrivers } from './support.js';

const name = (prefix: string) => `${prefix}-${randomUUID()}`;
const consumerScript = fileURLToPath(new URL('./fixtures/claiming-consumer.ts', import.meta.url));

describe.skipIf(!postgresUrl)('PostgreSQL queue across tenants, commits and processes', () => {
  let drivers: TestDrivers;
  let driver: PostgresTransportDriver;

  beforeAll(async () => {
    drivers = testDrivers();
    driver = await drivers.open();
  });
  afterAll(async () => {
    await drivers?.cleanup();
  });

  it('keeps a second tenant from seeing, claiming or dead-lettering the first\'s messages', async () => {
    const other = await drivers.open({ tenantId: 'other' });
    const queue = name('q');
    const topic = name('t');
    await driver.declare([{ topic, group: 'g' }]);
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(2));
    await other.enqueue({ kind: 'topic', name: topic }, prepared(2));
    const theirs = await other.openReceiver({ queue }, receiverOptions(queue));
    expect(await receiveWithin(theirs, 10, 300)).toEqual([]);
    // The other tenant's publish found no group of its own: nothing reached this tenant's group.
    const group = await driver.openReceiver({ topic, group: 'g' }, receiverOptions('g'));
    expect(await receiveWithin(group, 10, 300)).toEqual([]);
    const mine = await driver.openReceiver({ queue }, receiverOptions(queue));
    const got = await receiveWithin(mine, 10, 2_000);
    expect(ns(got)).toEqual([0, 1]);
    await mine.deadLetter(got[0]!, {
      message: null, raw: null, source: { queue }, consumer: queue, reason: 'rejected', error: 'Error: x', stack: null,
      attempts: 1, firstFailedAt: new Date().toISOString(), lastFailedAt: new Date().toISOString(),
    });
    expect(await driver.deadLetters.list({ source: { queue } })).toHaveLength(1);
    expect(await other.deadLetters.list({ source: { queue } })).toEqual([]);
    expect(await other.deadLetters.purge()).toBe(0);
    expect(await driver.deadLetters.list({ source: { queue } })).toHaveLength(1);
  });

  it('puts sends made together into few transactions (group commit)', async () => {
    const queue = name('q');
    await Promise.all(Array.from({ length: 200 }, (_, i) => driver.enqueue({ kind: 'queue', name: queue }, prepared(1, {}, null, i))));
    const admin = await adminClient();
    try {
      // Rows written by one transaction share its xmin.
      const { rows } = await admin.query(
        `SELECT count(*)::int AS messages, count(DISTINCT xmin::text)::int AS transactions FROM ${drivers.schema}.queue_messages WHERE destination = $1`,
        [`q:${queue}`],
      );
      expect(rows[0].messages).toBe(200);
      expect(rows[0].transactions).toBeLessThanOrEqual(4);
    } finally {
      await admin.end();
    }
  });

  it('wakes another process\'s idle receiver by NOTIFY, long before its poll', async () => {
    const peer = await drivers.open({ pollIntervalMs: 60_000 });
    const queue = name('q');
    const receiver = await peer.openReceiver({ queue }, receiverOptions(queue));
    // Let the peer's LISTEN take effect, and its receiver fall asleep.
    const early = receiveWithin(receiver, 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    await driver.enqueue({ kind: 'queue', name: queue }, prepared(1));
    expect(ns(await early)).toEqual([0]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('gives a SIGKILLed consumer process\'s message to another consumer after its lease', async () => {
    const queue = name('q');
    const child = spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', consumerScript, connectionString, drivers.schema, queue, '1500'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const claimed = new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /claimed (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`consumer exited with ${code}: ${err}`)));
    });
    try {
      const [message] = prepared(1);
      await driver.enqueue({ kind: 'queue', name: queue }, [message!]);
      expect(await claimed).toBe(message!.envelope.id);
      child.kill('SIGKILL');
      const receiver = await driver.openReceiver({ queue }, receiverOptions(queue));
      expect(await receiveWithin(receiver, 1, 300)).toEqual([]);
      const back = await receiveWithin(receiver, 1, 10_000);
      expect(back.map((m) => [(m as { envelope: { id: string } }).envelope.id, m.deliveryCount])).toEqual([[message!.envelope.id, 2]]);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
