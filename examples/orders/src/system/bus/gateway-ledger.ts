/**
 * The simulated card gateway's ledger: a table beside the event store, one row per capture or
 * refund the gateway made. It is what the inbox protects — a plain insert, with no key of its
 * own, so a message handled twice would show as two rows — and what the census checks.
 */
import type { RecordedEvent } from '@eventloom/core';
import type { PostgresEventStore } from '@eventloom/postgres';
import type { FlowEvent } from '../choreographed.js';
import type { Invariant } from '../invariants.js';
import { PaymentService } from '../services/index.js';

interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

const table = (schema: string) => `"${schema.replaceAll('"', '""')}".gateway_ledger`;

/** Creates the table, on a pool of the schema's owner (the store's own role may not create tables). */
export async function ensureGatewayLedger(db: Queryable, schema: string): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${table(schema)} (order_id text NOT NULL, kind text NOT NULL, amount numeric NOT NULL, message_id text NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
}

/** After the payment service handled `event`: what the gateway did for it, written on `client` (the inbox's transaction). */
export async function recordGatewayEffect(client: Queryable, store: PostgresEventStore, event: RecordedEvent<FlowEvent>): Promise<void> {
  if (event.type !== 'InventoryReserved' && event.type !== 'OrderCancelled') return;
  const { events } = await new PaymentService(store).history(event.data.orderId);
  const kind = event.type === 'InventoryReserved' ? 'PaymentCaptured' : 'PaymentRefunded';
  const effect = events.find((e) => e.type === kind);
  if (effect === undefined) return;
  await client.query(`INSERT INTO ${table(store.schema)} (order_id, kind, amount, message_id) VALUES ($1, $2, $3, $4)`, [
    event.data.orderId,
    kind === 'PaymentCaptured' ? 'capture' : 'refund',
    effect.data.amount,
    event.id,
  ]);
}

/** The invariant: the gateway captured and refunded each order at most once, exactly as the store's payment streams say. */
export async function gatewayInvariant(db: Queryable, schema: string, captures: number, refunds: number): Promise<Invariant> {
  const { rows } = await db.query(`SELECT order_id, kind, count(*)::int AS n FROM ${table(schema)} GROUP BY order_id, kind`);
  const counted = rows as { order_id: string; kind: 'capture' | 'refund'; n: number }[];
  const twice = counted.filter((r) => r.n > 1);
  const gatewayCaptures = counted.filter((r) => r.kind === 'capture').length;
  const gatewayRefunds = counted.filter((r) => r.kind === 'refund').length;
  const ok = twice.length === 0 && gatewayCaptures === captures && gatewayRefunds === refunds;
  return {
    name: 'the card gateway charged and refunded each order once (inbox)',
    ok,
    detail: ok ? '' : `${twice.length} order effects made more than once; gateway ${gatewayCaptures} captures / ${gatewayRefunds} refunds, store ${captures} / ${refunds}`,
  };
}
