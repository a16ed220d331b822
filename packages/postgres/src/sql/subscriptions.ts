/**
 * Migration 5: leases of named subscriptions (one process at a time holds one; the checkpoint is
 * written under the lease's epoch) and dead letters of subscriptions and consumer groups. Lease
 * times are the server's clock only, so clients' clocks never matter.
 */
import type { StoreNames } from '../names.js';
import type { Statement } from './queries.js';
import { tenantPolicy } from './tables.js';

const TENANT_COLUMN = `tenant_id text COLLATE "C" NOT NULL DEFAULT current_setting('eventloom.tenant_id')`;

export function subscriptionsSql({ qschema }: StoreNames): string {
  return `
CREATE TABLE ${qschema}.subscription_leases (
  ${TENANT_COLUMN},
  name text COLLATE "C" NOT NULL,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  lease_until timestamptz NOT NULL,
  CONSTRAINT subscription_leases_pkey PRIMARY KEY (tenant_id, name)
);
CREATE TABLE ${qschema}.subscription_dead_letters (
  ${TENANT_COLUMN},
  subscription_id text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  stream_id text NOT NULL,
  error text NOT NULL,
  attempts integer NOT NULL,
  failed_at timestamptz NOT NULL,
  CONSTRAINT subscription_dead_letters_pkey PRIMARY KEY (tenant_id, subscription_id, position)
);
${tenantPolicy(qschema, 'subscription_leases')}
${tenantPolicy(qschema, 'subscription_dead_letters')}
`;
}

export function subscriptionsGrants({ qschema: s, qrole: r }: StoreNames): string {
  return `
GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.subscription_leases, ${s}.subscription_dead_letters TO ${r};`;
}

export function subscriptionStatements({ qschema: s, statementPrefix: p }: StoreNames) {
  const statement = (name: string, text: string): Statement => ({ name: `${p}${name}_v5`, text });
  return {
    acquire: statement(
      'lease_acquire',
      `INSERT INTO ${s}.subscription_leases AS l (name, holder, epoch, lease_until)
       VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (tenant_id, name) DO UPDATE SET
         epoch = CASE WHEN l.holder = excluded.holder THEN l.epoch ELSE l.epoch + 1 END,
         holder = excluded.holder,
         lease_until = excluded.lease_until
       WHERE l.holder = excluded.holder OR l.lease_until <= clock_timestamp()
       RETURNING epoch`,
    ),
    release: statement(
      'lease_release',
      `UPDATE ${s}.subscription_leases SET lease_until = '-infinity' WHERE name = $1 AND holder = $2`,
    ),
    list: statement(
      'lease_list',
      `SELECT name, holder, epoch FROM ${s}.subscription_leases
       WHERE left(name, length($1)) = $1 AND lease_until > clock_timestamp() ORDER BY name`,
    ),
    holder: statement('lease_holder', `SELECT holder FROM ${s}.subscription_leases WHERE name = $1 AND lease_until > clock_timestamp()`),
    // Written only under the epoch the writer holds (in the same statement), and never lower than it was.
    fencedCheckpoint: statement(
      'checkpoint_store_fenced',
      `INSERT INTO ${s}.checkpoints AS c (subscription_id, position)
       SELECT $1, $2 WHERE EXISTS (
         SELECT 1 FROM ${s}.subscription_leases WHERE name = $3 AND holder = $4 AND epoch = $5 FOR SHARE)
       ON CONFLICT (tenant_id, subscription_id) DO UPDATE SET position = greatest(c.position, excluded.position), updated_at = now()`,
    ),
    recordDeadLetter: statement(
      'dead_letter_record',
      `INSERT INTO ${s}.subscription_dead_letters AS d
         (subscription_id, position, event_id, event_type, stream_id, error, attempts, failed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (tenant_id, subscription_id, position) DO UPDATE SET
         error = excluded.error, attempts = excluded.attempts, failed_at = excluded.failed_at`,
    ),
    listDeadLetters: statement(
      'dead_letter_list',
      `SELECT subscription_id, position, event_id, event_type, stream_id, error, attempts, failed_at
       FROM ${s}.subscription_dead_letters WHERE $1::text IS NULL OR subscription_id = $1 ORDER BY position, subscription_id`,
    ),
    discardDeadLetter: statement(
      'dead_letter_discard',
      `DELETE FROM ${s}.subscription_dead_letters WHERE subscription_id = $1 AND position = $2`,
    ),
  };
}
