/**
 * Migration 7: the state-based outbox and the inbox. Their rows are written by the user's own
 * connection inside the user's own transaction (which need not run as the store's role, nor have
 * the store's tenant setting), so the tenant is an explicit column every statement names, not a
 * row-level-security setting. Lease times are the server's clock only.
 */
import type { StoreNames } from '../names.js';

export function outboxInboxSql({ qschema: s }: StoreNames): string {
  return `
CREATE TABLE ${s}.outbox_messages (
  tenant_id text COLLATE "C" NOT NULL,
  outbox text COLLATE "C" NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  message jsonb NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT outbox_messages_pkey PRIMARY KEY (tenant_id, outbox, seq)
);
CREATE TABLE ${s}.outbox_relays (
  tenant_id text COLLATE "C" NOT NULL,
  outbox text COLLATE "C" NOT NULL,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  lease_until timestamptz NOT NULL,
  CONSTRAINT outbox_relays_pkey PRIMARY KEY (tenant_id, outbox)
);
CREATE TABLE ${s}.inbox_records (
  tenant_id text COLLATE "C" NOT NULL,
  consumer text COLLATE "C" NOT NULL,
  message_id text COLLATE "C" NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT inbox_records_pkey PRIMARY KEY (tenant_id, consumer, message_id)
);
CREATE INDEX inbox_records_handled_at_idx ON ${s}.inbox_records (tenant_id, handled_at);
-- The relay's look at the head of an outbox, in functions with plans that need no statistics:
-- with autovacuum off nothing analyzes the table, and a planner that thinks it holds 6 rows sorts
-- all of them (a bitmap scan, then a sort: 18 ms for 100 of 20,000 rows) instead of reading the
-- first 100 in index order.
CREATE FUNCTION ${s}.outbox_peek(p_tenant text, p_outbox text, p_limit integer)
  RETURNS TABLE (seq bigint, message jsonb) LANGUAGE sql STABLE
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
  SELECT m.seq, m.message FROM ${s}.outbox_messages m
  WHERE m.tenant_id = p_tenant AND m.outbox = p_outbox ORDER BY m.seq LIMIT p_limit
$$;
CREATE FUNCTION ${s}.outbox_remove(p_tenant text, p_outbox text, p_holder text, p_epoch bigint, p_seqs bigint[])
  RETURNS boolean LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
BEGIN
  -- Deleted only while the lease is held under the epoch: a relay that lost it deletes nothing.
  PERFORM 1 FROM ${s}.outbox_relays
    WHERE tenant_id = p_tenant AND outbox = p_outbox AND holder = p_holder AND epoch = p_epoch FOR SHARE;
  IF NOT FOUND THEN RETURN false; END IF;
  DELETE FROM ${s}.outbox_messages WHERE tenant_id = p_tenant AND outbox = p_outbox AND seq = ANY (p_seqs);
  RETURN true;
END
$$;
`;
}

export function outboxInboxGrants({ qschema: s, qrole: r }: StoreNames): string {
  return `GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.outbox_messages, ${s}.outbox_relays, ${s}.inbox_records TO ${r};
GRANT EXECUTE ON FUNCTION ${s}.outbox_peek, ${s}.outbox_remove TO ${r};`;
}

/** The statements, for one schema. `$1` is always the tenant. */
export function outboxQueries(s: string) {
  return {
    // One round trip for a batch; identities are assigned in the array's order.
    add: `INSERT INTO ${s}.outbox_messages (tenant_id, outbox, message)
SELECT $1, $2, m.value FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS m(value, i) ORDER BY m.i`,
    peek: `SELECT p.seq::text AS seq, p.message FROM ${s}.outbox_peek($1, $2, $3) p ORDER BY p.seq`,
    count: `SELECT count(*)::integer AS n FROM ${s}.outbox_messages WHERE tenant_id = $1 AND outbox = $2`,
    acquire: `
INSERT INTO ${s}.outbox_relays AS r (tenant_id, outbox, holder, epoch, lease_until)
VALUES ($1, $2, $3, 1, clock_timestamp() + make_interval(secs => $4::double precision / 1000))
ON CONFLICT (tenant_id, outbox) DO UPDATE SET
  epoch = CASE WHEN r.holder = excluded.holder THEN r.epoch ELSE r.epoch + 1 END,
  holder = excluded.holder,
  lease_until = excluded.lease_until
WHERE r.holder = excluded.holder OR r.lease_until <= clock_timestamp()
RETURNING epoch::text AS epoch`,
    release: `UPDATE ${s}.outbox_relays SET lease_until = '-infinity' WHERE tenant_id = $1 AND outbox = $2 AND holder = $3`,
    remove: `SELECT ${s}.outbox_remove($1, $2, $3, $4::bigint, $5::bigint[]) AS held`,
    record: `INSERT INTO ${s}.inbox_records (tenant_id, consumer, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    has: `SELECT 1 FROM ${s}.inbox_records WHERE tenant_id = $1 AND consumer = $2 AND message_id = $3`,
    prune: `DELETE FROM ${s}.inbox_records WHERE tenant_id = $1 AND handled_at < $2`,
  };
}
