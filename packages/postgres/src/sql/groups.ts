/**
 * Migration 2: consumer groups. Streams are split into partitions by a stable hash of their id
 * (as Message DB does); members of a group hold partitions under leases and keep one checkpoint
 * per partition, so each stream is handled by one member at a time, in order.
 */
import type { StoreNames } from '../names.js';
import { dollarQuoted } from './functions.js';
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
