/**
 * The distributed payment service's inbox: the same InventoryReserved delivered twice (the
 * PostgreSQL bus keeps both: it does not dedupe by id, as a relay that published again after a
 * crash would send) captures once in the store and writes one row in the gateway's ledger. The
 * ledger's invariant sees it when a handler without the inbox writes twice.
 */
import { randomUUID } from 'node:crypto';
import { dropPostgresEventStore, openPostgresEventStore, openPostgresInbox } from '@eventloom/postgres';
import { POSTGRES, serviceOrSkip } from '@eventloom/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { orderSchemas } from '../src/order/index.js';
import { ensureGatewayLedger, gatewayInvariant, recordGatewayEffect } from '../src/system/bus/gateway-ledger.js';
import { openBus, type BusConfig } from '../src/system/bus/open-bus.js';
import { asRecorded, startServiceOnBus } from '../src/system/bus/service-on-bus.js';
import { topicName } from '../src/system/bus/topology.js';
import { catalogue, plannedOrders } from '../src/system/catalogue.js';
import type { FlowEvent } from '../src/system/choreographed.js';
import { createServices, PaymentService } from '../src/system/services/index.js';

const url = await serviceOrSkip(POSTGRES);

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!url)('the distributed payment service and its inbox (PostgreSQL bus)', () => {
  it('a message delivered twice captures once and charges the gateway once; without the inbox the invariant fails', { timeout: 60_000 }, async () => {
    const runId = `t-${randomUUID().slice(0, 12)}`;
    const schema = `orders_${runId.replaceAll('-', '_')}`;
    const bus: BusConfig = { kind: 'postgres', url: '', runId };
    const store = await openPostgresEventStore({ connectionString: url!, schema, schemas: orderSchemas(), source: 'test', poolSize: 4 });
    const owner = new pg.Pool({ connectionString: url!, max: 4 });
    try {
      await ensureGatewayLedger(owner, schema);
      const inbox = await openPostgresInbox({ pool: owner, schema });
      const transport = await openBus(bus, store, 'test');
      const planned = plannedOrders(10);
      const order = planned.find((o) => o.card === 'ok' && !o.flakyGateway)!;
      const services = createServices(store, catalogue(10));
      const service = startServiceOnBus({ part: 'payment', bus, store, transport, inbox, services, lookup: (id) => planned.find((o) => o.orderId === id)! });
      try {
        await service.ready;
        const message = { id: randomUUID(), type: 'InventoryReserved' as const, data: { orderId: order.orderId, units: ['u1'] }, correlationId: `checkout-${order.orderId}`, subject: `inventory-${order.orderId}` };
        await transport.publish<FlowEvent>(topicName(bus, 'inventory'), message);
        await transport.publish<FlowEvent>(topicName(bus, 'inventory'), message);
        await eventually(async () => service.consumers.reduce((n, c) => n + c.handled, 0) >= 2, 'both deliveries handled');
      } finally {
        await service.stop();
        await transport.close();
        await inbox.close();
      }
      const { events } = await new PaymentService(store).history(order.orderId);
      expect(events.map((e) => e.type)).toEqual(['PaymentCaptured']);
      const { rows } = await owner.query(`SELECT kind, message_id FROM "${schema}".gateway_ledger`);
      expect(rows).toHaveLength(1);
      expect((await gatewayInvariant(owner, schema, 1, 0)).ok).toBe(true);

      // The same message handled again without the inbox: a second charge at the gateway, and the invariant says so.
      const again = { ...(rows[0] as { message_id: string }), type: 'InventoryReserved', data: { orderId: order.orderId, units: ['u1'] }, correlationId: 'c', subject: `inventory-${order.orderId}` };
      await recordGatewayEffect(owner, store, asRecorded({ ...again, id: again.message_id } as never));
      const broken = await gatewayInvariant(owner, schema, 1, 0);
      expect(broken.ok).toBe(false);
      expect(broken.detail).toMatch(/1 order effects made more than once/);
    } finally {
      await store.close();
      await owner.end();
      await dropPostgresEventStore({ connectionString: url!, schema });
    }
  });
});
