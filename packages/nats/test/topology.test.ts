/**
 * Topology is created on demand or verified: streams and consumers that exist with other
 * settings are a TopologyConflictError naming the resource, and nothing is changed.
 */
import { randomUUID } from 'node:crypto';
import { TopologyConflictError, type Transport } from '@eventloom/core';
import { AckPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { openNatsTransport } from '../src/index.js';
import { deleteStreams, natsUrl, uniquePrefix } from './support.js';

describe.skipIf(!natsUrl)('NATS topology', () => {
  const servers = natsUrl!;
  const opened: Transport[] = [];
  const prefixes: string[] = [];
  const open = async (prefix: string, partitions?: number): Promise<Transport> => {
    const t = await openNatsTransport({ servers, prefix, ...(partitions && { partitions }) });
    opened.push(t);
    return t;
  };
  const fresh = (): string => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return prefix;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((t) => t.close()));
    await Promise.all(prefixes.splice(0).map((p) => deleteStreams(servers, p)));
  });

  it('creates a work-queue stream for a queue and a limits stream for a topic, with one consumer per partition and one unkeyed', async () => {
    const prefix = fresh();
    const transport = await open(prefix, 3);
    await transport.declare([{ queue: 'billing.charge' }, { topic: 'users', group: 'mailer' }, { topic: 'users', group: 'crm' }]);
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      const queue = await jsm.streams.info(`${prefix}_q_billing_dcharge`);
      expect(queue.config.retention).toBe(RetentionPolicy.Workqueue);
      expect(queue.config.storage).toBe(StorageType.File);
      expect(queue.config.subjects).toEqual([`${prefix}.q.billing_dcharge.>`]);
      const topic = await jsm.streams.info(`${prefix}_t_users`);
      expect(topic.config.retention).toBe(RetentionPolicy.Limits);
      expect(topic.config.max_age).toBe(7 * 24 * 3_600 * 1e9);
      const consumers: string[] = [];
      for await (const c of jsm.consumers.list(`${prefix}_t_users`)) consumers.push(`${c.name}:${c.config.filter_subject}:${c.config.max_ack_pending}`);
      expect(consumers.sort()).toEqual(
        [
          `g_crm_u:${prefix}.t.users.u:-1`,
          `g_mailer_u:${prefix}.t.users.u:-1`,
          ...[0, 1, 2].flatMap((p) => [`g_crm_p${p}:${prefix}.t.users.p${p}:1`, `g_mailer_p${p}:${prefix}.t.users.p${p}:1`]),
        ].sort(),
      );
    } finally {
      await nc.close();
    }
  });

  it('declaring twice, or from a second transport with the same settings, changes nothing', async () => {
    const prefix = fresh();
    const a = await open(prefix);
    const b = await open(prefix);
    await a.declare([{ queue: 'q1' }, { topic: 't1', group: 'g1' }]);
    await a.declare([{ queue: 'q1' }, { topic: 't1', group: 'g1' }]);
    await expect(b.declare([{ queue: 'q1' }, { topic: 't1', group: 'g1' }])).resolves.toBeUndefined();
  });

  it('another partition count than the stream was made with: TopologyConflictError, nothing changed', async () => {
    const prefix = fresh();
    await (await open(prefix, 4)).declare([{ queue: 'orders' }]);
    const other = await open(prefix, 8);
    const error = await other.declare([{ queue: 'orders' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopologyConflictError);
    expect((error as TopologyConflictError).code).toBe('TOPOLOGY_CONFLICT');
    expect((error as Error).message).toContain(`${prefix}_q_orders`);
    await expect(other.send('orders', { type: 'X', data: {} })).rejects.toBeInstanceOf(TopologyConflictError);
  });

  it('a stream made by someone else with other retention, or a consumer with another filter: TopologyConflictError naming it', async () => {
    const prefix = fresh();
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: `${prefix}_q_jobs`, subjects: [`${prefix}.q.jobs.>`], retention: RetentionPolicy.Limits });
      await jsm.streams.add({ name: `${prefix}_t_news`, subjects: [`${prefix}.t.news.>`], retention: RetentionPolicy.Limits, description: 'eventloom topic news; partitions=8' });
      await jsm.consumers.add(`${prefix}_t_news`, { durable_name: 'g_web_u', ack_policy: AckPolicy.Explicit, filter_subject: `${prefix}.t.news.>` });
    } finally {
      await nc.close();
    }
    const transport = await open(prefix);
    const jobs = await transport.declare([{ queue: 'jobs' }]).catch((e: unknown) => e);
    expect(jobs).toBeInstanceOf(TopologyConflictError);
    expect((jobs as Error).message).toMatch(/retention is limits, Eventloom needs workqueue/);
    const news = await transport.declare([{ topic: 'news', group: 'web' }]).catch((e: unknown) => e);
    expect(news).toBeInstanceOf(TopologyConflictError);
    expect((news as Error).message).toContain('g_web_u');
    expect((news as Error).message).toContain('filter subject');
  });

  it('names that differ only by . and _ get streams of their own', async () => {
    const prefix = fresh();
    const transport = await open(prefix);
    const a = `a.b-${randomUUID().slice(0, 4)}`;
    const b = a.replace('.', '_');
    await transport.send(a, { type: 'X', data: { n: 1 } });
    await transport.send(b, { type: 'X', data: { n: 2 } });
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const name of jsm.streams.names()) if (name.startsWith(`${prefix}_q_`)) names.push(name);
      expect(names).toHaveLength(2);
      for (const name of names) expect((await jsm.streams.info(name)).state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });
});
