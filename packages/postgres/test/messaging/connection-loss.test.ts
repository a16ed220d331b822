/** The queue when its server goes away: typed, retryable errors meanwhile; sends, claims and wake-ups work again once it is back. */
import { TransportUnavailableError } from '@eventloom/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresEventStore } from '../../src/index.js';
import { openPostgresTransportDriver, type PostgresTransportDriver } from '../../src/messaging/index.js';
import { startThrowawayCluster, type ThrowawayCluster } from '../fixtures/throwaway-cluster.js';
import { ns, postgresUrl, prepared, receiveWithin, receiverOptions } from './support.js';

describe.skipIf(!postgresUrl)('PostgreSQL queue: lost connections', () => {
  let cluster: ThrowawayCluster;
  let driver: PostgresTransportDriver;
  let peer: PostgresTransportDriver;

  beforeAll(async () => {
    cluster = await startThrowawayCluster();
    driver = await openPostgresTransportDriver({ connectionString: cluster.url(), schema: 'q_loss', poolSize: 3 });
    peer = await openPostgresTransportDriver({ connectionString: cluster.url(), schema: 'q_loss', poolSize: 3, pollIntervalMs: 60_000 });
  }, 120_000);
  afterAll(async () => {
    await driver?.close();
    await peer?.close();
    if (cluster) await dropPostgresEventStore({ connectionString: cluster.url(), schema: 'q_loss' }).catch(() => undefined);
    await cluster?.stop();
  });

  it('fails sends and claims with TransportUnavailableError while the server is down, and goes on when it is back', async () => {
    const receiver = await peer.openReceiver({ queue: 'jobs' }, receiverOptions('jobs'));
    await driver.enqueue({ kind: 'queue', name: 'jobs' }, prepared(1));
    expect(ns(await receiveWithin(receiver, 10, 5_000))).toEqual([0]);

    await cluster.restart();
    // The pool's connections died with the server: the first use of each fails, typed and retryable.
    const failures: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        await driver.enqueue({ kind: 'queue', name: 'jobs' }, prepared(1, {}, null, 1));
        break;
      } catch (error) {
        failures.push(error);
      }
    }
    for (const error of failures) {
      expect(error).toBeInstanceOf(TransportUnavailableError);
      expect((error as Error).message).toMatch(/PostgreSQL became unreachable during a send to queue jobs/);
    }
    // The restart is a crash (immediate stop): the claim of message 0 committed asynchronously and
    // may be lost with it, so 0 may come again — a redelivery, never a loss.
    const seen = new Set<number>();
    for (let i = 0; i < 10 && !seen.has(1); i++) {
      try {
        const got = await receiveWithin(receiver, 10, 5_000);
        for (const n of ns(got)) seen.add(n);
        await receiver.ack(got);
      } catch (error) {
        expect(error).toBeInstanceOf(TransportUnavailableError);
      }
    }
    expect(seen.has(1)).toBe(true);
    expect([...seen].every((n) => n === 0 || n === 1)).toBe(true);

    // The listening connection came back too: a new send wakes the peer (poll 60 s) again.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const waiting = receiveWithin(receiver, 10, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await driver.enqueue({ kind: 'queue', name: 'jobs' }, prepared(1, {}, null, 2));
    expect(ns(await waiting)).toEqual([2]);
  }, 120_000);
});
