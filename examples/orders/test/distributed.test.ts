/**
 * The distributed mode: each service in its own process, NATS JetStream between them, PostgreSQL
 * for state; the payment service killed with SIGKILL a third of the way through and started
 * again; the same invariants hold, the inbox's included. A unique schema and NATS prefix per run,
 * both deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { NATS, POSTGRES, serviceOrSkip } from '@eventloom/testing';
import { dropPostgresEventStore } from '@eventloom/postgres';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { runDistributed } from '../src/system/distributed.js';

const url = await serviceOrSkip(POSTGRES);
const natsUrl = await serviceOrSkip(NATS);

async function streamsOf(prefix: string): Promise<string[]> {
  const nc = await connect({ servers: natsUrl! });
  try {
    const names: string[] = [];
    for await (const name of (await jetstreamManager(nc)).streams.names()) if (name.startsWith(`${prefix}_`)) names.push(name);
    return names;
  } finally {
    await nc.close();
  }
}

describe.skipIf(!url || !natsUrl)('the order system, distributed (a process per service, NATS between them, PostgreSQL for state)', () => {
  it('settles every order with the payment service killed mid-run; every invariant holds; the run leaves no streams', { timeout: 200_000 }, async () => {
    const runId = `t-${randomUUID().slice(0, 12)}`;
    const schema = `orders_${runId.replaceAll('-', '_')}`;
    try {
      const result = await runDistributed({ connectionString: url!, schema, orders: 20, bus: { kind: 'nats', url: natsUrl!, runId }, kill: 'payment', timeoutMs: 170_000 });
      expect(result.killed).toBe('payment');
      expect(result.bus).toBe('nats');
      expect(result.invariants.filter((i) => !i.ok)).toEqual([]);
      expect(result.invariants.map((i) => i.name)).toContain('the card gateway charged and refunded each order once (inbox)');
      expect(result.sagasByState).toEqual({ completed: result.ordersByStatus.SHIPPED, compensated: result.ordersByStatus.CANCELLED });
      expect(result.ordersByStatus.SHIPPED).toBeGreaterThan(5);
      expect(result.captures).toBeGreaterThan(5);
      expect(await streamsOf(runId)).toEqual([]);
    } finally {
      await dropPostgresEventStore({ connectionString: url!, schema });
    }
  });
});
