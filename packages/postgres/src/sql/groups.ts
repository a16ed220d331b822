/**
 * Migration 2: consumer groups. Streams are split into partitions by a stable hash of their id
 * (as Message DB does); members of a group hold partitions under leases and keep one checkpoint
 * per partition, so each stream is handled by one member at a time, in order.
 */
import type { StoreNames } from '../names.js';
import { dollarQuoted } from './functions.js';
import type { Statement } from './queries.js';
import { tenantPolicy } from './tables.js';

const TENANT_COLUMN = `tenant_id text COLLATE "C" NOT NULL DEFAULT current_setting('eventloom.tenant_id')`;

export function groupsSql({ qschema }: StoreNames): string {
  return `
CREATE TABLE ${qschema}.group_members (
  ${TENANT_COLUMN},
  group_name text COLLATE "C" NOT NULL,
  member_id text COLLATE "C" NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT group_members_pkey PRIMARY KEY (tenant_id, group_name, member_id)
);

CREATE TABLE ${qschema}.group_partitions (
  ${TENANT_COLUMN},
  group_name text COLLATE "C" NOT NULL,
  partition integer NOT NULL,
  partition_count integer NOT NULL,
  owner text COLLATE "C",
  lease_until timestamptz,
  -- The partition's checkpoint: the last position handled.
  position bigint,
  CONSTRAINT group_partitions_pkey PRIMARY KEY (tenant_id, group_name, partition)
);
${tenantPolicy(qschema, 'group_members')}
${tenantPolicy(qschema, 'group_partitions')}

-- md5 rather than hashtext: the partition of a stream must not change with the server's version.
CREATE FUNCTION ${qschema}.partition_of(p_stream_id text, p_count integer) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN (('x' || left(md5(p_stream_id), 8))::bit(32)::bigint % p_count)::integer;

-- One heartbeat of a member: renew its membership and leases, give back what it released, and
-- claim the free or expired partitions assigned to it (partition mod live members = its rank).
CREATE FUNCTION ${qschema}.group_heartbeat(
  p_group text,
  p_member text,
  p_lease_ms integer,
  p_release integer[]
) RETURNS TABLE (held_partition integer, held_position bigint, assigned boolean)
LANGUAGE plpgsql AS ${dollarQuoted(`
DECLARE
  v_lease interval := p_lease_ms * interval '1 millisecond';
  v_members integer;
  v_rank integer;
BEGIN
  INSERT INTO ${qschema}.group_members AS m (group_name, member_id, expires_at) VALUES (p_group, p_member, now() + v_lease)
    ON CONFLICT (tenant_id, group_name, member_id) DO UPDATE SET expires_at = excluded.expires_at;
  DELETE FROM ${qschema}.group_members m WHERE m.group_name = p_group AND m.expires_at < now();
  SELECT count(*), count(*) FILTER (WHERE m.member_id < p_member) INTO v_members, v_rank
    FROM ${qschema}.group_members m WHERE m.group_name = p_group;
  UPDATE ${qschema}.group_partitions g SET owner = NULL, lease_until = NULL
    WHERE g.group_name = p_group AND g.owner = p_member AND g.partition = ANY (p_release);
  RETURN QUERY
    UPDATE ${qschema}.group_partitions g SET owner = p_member, lease_until = now() + v_lease
    WHERE g.group_name = p_group
      AND NOT (g.partition = ANY (p_release))
      AND (g.owner = p_member
           OR (g.partition % v_members = v_rank AND (g.owner IS NULL OR g.lease_until < now())))
    RETURNING g.partition, g.position, g.partition % v_members = v_rank;
END
`)};
`;
}

/** SQLSTATE of a heartbeat whose member's partition count is not the group's; DETAIL: the group's count. */
export const GROUP_CONFIG_MISMATCH = 'EL006';

/**
 * Migration 4: the group's partition count kept once, in `group_configs`, and checked before
 * anything is written; sticky assignment (a member keeps what it holds up to its fair share and
 * claims only free partitions); a lease epoch that fences the checkpoint of a handler whose lease
 * was lost meanwhile; lease times from the server's clock only; and resizing.
 */
export function groupsV4Sql({ qschema: s }: StoreNames): string {
  return `
CREATE TABLE ${s}.group_configs (
  ${TENANT_COLUMN},
  group_name text COLLATE "C" NOT NULL,
  partition_count integer NOT NULL CHECK (partition_count > 0),
  CONSTRAINT group_configs_pkey PRIMARY KEY (tenant_id, group_name)
);
-- Groups joined before: the count of their first member (the one that made partition 0). Rows a
-- member with another count added are dropped: they never held a checkpoint of their own.
-- The table owner bypasses row-level security only while it is not forced.
ALTER TABLE ${s}.group_partitions NO FORCE ROW LEVEL SECURITY;
INSERT INTO ${s}.group_configs (tenant_id, group_name, partition_count)
  SELECT g.tenant_id, g.group_name, g.partition_count FROM ${s}.group_partitions g WHERE g.partition = 0;
DELETE FROM ${s}.group_partitions g USING ${s}.group_configs c
  WHERE g.tenant_id = c.tenant_id AND g.group_name = c.group_name AND g.partition >= c.partition_count;
ALTER TABLE ${s}.group_partitions FORCE ROW LEVEL SECURITY;
ALTER TABLE ${s}.group_partitions DROP COLUMN partition_count;
-- Grows each time another holder takes the partition: a checkpoint written under an older epoch is refused.
ALTER TABLE ${s}.group_partitions ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
${tenantPolicy(s, 'group_configs')}

-- The first member fixes the group's partition count; a member with another count changes nothing.
CREATE FUNCTION ${s}.group_join(p_group text, p_count integer) RETURNS integer
LANGUAGE plpgsql AS ${dollarQuoted(`
DECLARE
  v_count integer;
BEGIN
  INSERT INTO ${s}.group_configs AS c (group_name, partition_count) VALUES (p_group, p_count)
    ON CONFLICT (tenant_id, group_name) DO NOTHING;
  SELECT c.partition_count INTO v_count FROM ${s}.group_configs c WHERE c.group_name = p_group;
  IF v_count = p_count THEN
    INSERT INTO ${s}.group_partitions (group_name, partition)
      SELECT p_group, p FROM generate_series(0, p_count - 1) AS p
      ON CONFLICT (tenant_id, group_name, partition) DO NOTHING;
  END IF;
  RETURN v_count;
END
`)};

DROP FUNCTION ${s}.group_heartbeat(text, text, integer, integer[]);

-- One heartbeat of a member, on the server's clock: renew its membership and leases, give back
-- what it released, and claim free or expired partitions up to its share (members sorted by id;
-- the first count % members take one more). Partitions beyond its share come back with assigned
-- = false, the highest first, for the member to stop and release: so a new member takes only what
-- must move, and the others keep the rest.
CREATE FUNCTION ${s}.group_heartbeat(
  p_group text,
  p_member text,
  p_count integer,
  p_lease_ms integer,
  p_release integer[]
) RETURNS TABLE (held_partition integer, held_epoch bigint, assigned boolean)
LANGUAGE plpgsql AS ${dollarQuoted(`
DECLARE
  v_lease interval := p_lease_ms * interval '1 millisecond';
  v_now timestamptz := clock_timestamp();
  v_count integer;
  v_members integer;
  v_rank integer;
  v_share integer;
  v_held integer;
BEGIN
  SELECT c.partition_count INTO v_count FROM ${s}.group_configs c WHERE c.group_name = p_group;
  IF v_count IS DISTINCT FROM p_count THEN
    RAISE EXCEPTION 'consumer group % has % partitions, this member has %', p_group, v_count, p_count
      USING ERRCODE = '${GROUP_CONFIG_MISMATCH}', DETAIL = coalesce(v_count::text, '');
  END IF;
  INSERT INTO ${s}.group_members AS m (group_name, member_id, expires_at) VALUES (p_group, p_member, v_now + v_lease)
    ON CONFLICT (tenant_id, group_name, member_id) DO UPDATE SET expires_at = excluded.expires_at;
  DELETE FROM ${s}.group_members m WHERE m.group_name = p_group AND m.expires_at < v_now;
  SELECT count(*), count(*) FILTER (WHERE m.member_id < p_member) INTO v_members, v_rank
    FROM ${s}.group_members m WHERE m.group_name = p_group;
  v_share := v_count / v_members + CASE WHEN v_rank < v_count % v_members THEN 1 ELSE 0 END;
  UPDATE ${s}.group_partitions g SET owner = NULL, lease_until = NULL
    WHERE g.group_name = p_group AND g.owner = p_member AND g.partition = ANY (p_release);
  UPDATE ${s}.group_partitions g SET lease_until = v_now + v_lease
    WHERE g.group_name = p_group AND g.owner = p_member;
  SELECT count(*) INTO v_held FROM ${s}.group_partitions g WHERE g.group_name = p_group AND g.owner = p_member;
  IF v_held < v_share THEN
    UPDATE ${s}.group_partitions g SET owner = p_member, lease_until = v_now + v_lease, lease_epoch = g.lease_epoch + 1
      WHERE g.group_name = p_group AND g.partition IN (
        SELECT f.partition FROM ${s}.group_partitions f
        WHERE f.group_name = p_group AND (f.owner IS NULL OR f.lease_until < v_now) AND NOT (f.partition = ANY (p_release))
        ORDER BY f.partition LIMIT v_share - v_held
        FOR UPDATE SKIP LOCKED);
  END IF;
  RETURN QUERY
    SELECT g.partition, g.lease_epoch, (row_number() OVER (ORDER BY g.partition)) <= v_share
    FROM ${s}.group_partitions g WHERE g.group_name = p_group AND g.owner = p_member
    ORDER BY g.partition;
END
`)};

-- Resizing: every lease ends (members with the old count stop at their next heartbeat, and their
-- checkpoints are refused), and every new partition starts at the lowest old checkpoint — or at
-- the members' start when an old partition had none — so nothing is skipped; events between that
-- and a partition's old checkpoint are handled again.
CREATE FUNCTION ${s}.group_resize(p_group text, p_count integer)
RETURNS TABLE (old_count integer, start_position bigint)
LANGUAGE plpgsql AS ${dollarQuoted(`
DECLARE
  v_old integer;
  v_start bigint;
  v_unset boolean;
BEGIN
  SELECT c.partition_count INTO v_old FROM ${s}.group_configs c WHERE c.group_name = p_group FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO ${s}.group_configs (group_name, partition_count) VALUES (p_group, p_count);
    RETURN QUERY SELECT NULL::integer, NULL::bigint;
    RETURN;
  END IF;
  PERFORM 1 FROM ${s}.group_partitions g WHERE g.group_name = p_group FOR UPDATE;
  SELECT min(g.position), bool_or(g.position IS NULL) INTO v_start, v_unset
    FROM ${s}.group_partitions g WHERE g.group_name = p_group;
  IF v_unset THEN v_start := NULL; END IF;
  IF v_old <> p_count THEN
    DELETE FROM ${s}.group_partitions g WHERE g.group_name = p_group;
    INSERT INTO ${s}.group_partitions (group_name, partition, position)
      SELECT p_group, p, v_start FROM generate_series(0, p_count - 1) AS p;
    UPDATE ${s}.group_configs c SET partition_count = p_count WHERE c.group_name = p_group;
    DELETE FROM ${s}.group_members m WHERE m.group_name = p_group;
  END IF;
  RETURN QUERY SELECT v_old, v_start;
END
`)};
`;
}

export function groupsV4Grants({ qschema: s, qrole: r }: StoreNames): string {
  return `
GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.group_configs TO ${r};
GRANT EXECUTE ON FUNCTION ${s}.group_join, ${s}.group_heartbeat, ${s}.group_resize TO ${r};`;
}

/** The statements of consumer groups after migration 4, prepared by name like the store's others. */
export function groupStatements({ qschema: s, statementPrefix: p }: StoreNames) {
  const statement = (name: string, text: string): Statement => ({ name: `${p}${name}_v4`, text });
  return {
    join: statement('group_join', `SELECT ${s}.group_join($1, $2)`),
    heartbeat: statement('group_heartbeat', `SELECT held_partition, held_epoch, assigned FROM ${s}.group_heartbeat($1, $2, $3, $4, $5)`),
    load: statement('group_partition_load', `SELECT position FROM ${s}.group_partitions WHERE group_name = $1 AND partition = $2`),
    /** Fenced: moves the checkpoint only under the lease (owner and epoch) the handler started with, before it ends. */
    store: statement(
      'group_partition_store',
      `UPDATE ${s}.group_partitions SET position = $4
       WHERE group_name = $1 AND partition = $2 AND owner = $3 AND lease_epoch = $5 AND lease_until > clock_timestamp()`,
    ),
    leave: statement(
      'group_leave',
      `WITH released AS (
         UPDATE ${s}.group_partitions SET owner = NULL, lease_until = NULL WHERE group_name = $1 AND owner = $2
       )
       DELETE FROM ${s}.group_members WHERE group_name = $1 AND member_id = $2`,
    ),
    resize: statement('group_resize', `SELECT old_count, start_position FROM ${s}.group_resize($1, $2)`),
  };
}

export type GroupStatements = ReturnType<typeof groupStatements>;
