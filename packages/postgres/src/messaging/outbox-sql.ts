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
`;
}

export function outboxInboxGrants({ qschema: s, qrole: r }: StoreNames): string {
  return `GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.outbox_messages, ${s}.outbox_relays, ${s}.inbox_records TO ${r};`;
}

/** The statements, for one schema. `$1` is always the tenant. */
export function outboxQueries(s: string) {
  return {
    // One round trip for a batch; identities are assigned in the array's order.
    add: `INSERT INTO ${s}.outbox_messages (tenant_id, outbox, message)
SELECT $1, $2, m.value FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS m(value, i) ORDER BY m.i`,
    // Ordered by the column, not by the text the row gives it (that would put 10 before 9).
    peek: `SELECT m.seq::text AS seq, m.message FROM ${s}.outbox_messages m WHERE m.tenant_id = $1 AND m.outbox = $2 ORDER BY m.seq LIMIT $3`,
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
    // Deleted only while the lease is held under the epoch: a relay that lost it deletes nothing.
    remove: `
WITH held AS (
  SELECT 1 FROM ${s}.outbox_relays WHERE tenant_id = $1 AND outbox = $2 AND holder = $3 AND epoch = $4::bigint FOR SHARE
), gone AS (
  DELETE FROM ${s}.outbox_messages WHERE tenant_id = $1 AND outbox = $2 AND seq = ANY($5::bigint[]) AND EXISTS (SELECT 1 FROM held)
)
SELECT EXISTS (SELECT 1 FROM held) AS held`,
    record: `INSERT INTO ${s}.inbox_records (tenant_id, consumer, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    has: `SELECT 1 FROM ${s}.inbox_records WHERE tenant_id = $1 AND consumer = $2 AND message_id = $3`,
    prune: `DELETE FROM ${s}.inbox_records WHERE tenant_id = $1 AND handled_at < $2`,
  };
}
