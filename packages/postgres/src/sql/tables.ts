/** Migration 1, part 1: the tables of the event store, their indexes and tenant isolation. */
import type { StoreNames } from '../names.js';

/** The session setting every policy reads; the store sets it on each of its connections. */
export const TENANT_SETTING = 'eventloom.tenant_id';

const TENANT_COLUMN = `tenant_id text COLLATE "C" NOT NULL DEFAULT current_setting('${TENANT_SETTING}')`;

/** Only rows of the session's tenant exist for ordinary roles; the table owner is subject too (FORCE). */
export function tenantPolicy(qschema: string, table: string): string {
  return `
ALTER TABLE ${qschema}.${table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${qschema}.${table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${qschema}.${table}
  USING (tenant_id = current_setting('${TENANT_SETTING}'))
  WITH CHECK (tenant_id = current_setting('${TENANT_SETTING}'));`;
}

export function tablesSql({ qschema }: StoreNames): string {
  return `
-- position: from the tenant's log head since migration 3 (xid8 * 2^20 + index before it).
-- stream_id sorts byte-wise (COLLATE "C") so that prefix filters mean what they say.
CREATE TABLE ${qschema}.events (
  ${TENANT_COLUMN},
  position bigint NOT NULL,
  id uuid NOT NULL,
  stream_id text COLLATE "C" NOT NULL,
  stream_version bigint NOT NULL,
  type text COLLATE "C" NOT NULL,
  schema_version integer NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  correlation_id text NOT NULL,
  causation_id text,
  time timestamptz NOT NULL,
  source text NOT NULL,
  -- Events of a tombstoned stream leave the log but keep their ids taken.
  tombstoned boolean NOT NULL DEFAULT false,
  CONSTRAINT events_pkey PRIMARY KEY (tenant_id, position),
  CONSTRAINT events_stream_version_key UNIQUE (tenant_id, stream_id, stream_version),
  CONSTRAINT events_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX events_category_idx ON ${qschema}.events (tenant_id, split_part(stream_id, '-', 1), position);

CREATE TABLE ${qschema}.streams (
  ${TENANT_COLUMN},
  stream_id text COLLATE "C" NOT NULL,
  version bigint NOT NULL DEFAULT 0,
  metadata jsonb NOT NULL DEFAULT '{}',
  soft_deleted boolean NOT NULL DEFAULT false,
  tombstoned boolean NOT NULL DEFAULT false,
  -- Position of the stream's last event: a later append must land above it.
  last_position bigint NOT NULL DEFAULT 0,
  CONSTRAINT streams_pkey PRIMARY KEY (tenant_id, stream_id)
);

CREATE TABLE ${qschema}.checkpoints (
  ${TENANT_COLUMN},
  subscription_id text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT checkpoints_pkey PRIMARY KEY (tenant_id, subscription_id)
);

CREATE TABLE ${qschema}.snapshots (
  ${TENANT_COLUMN},
  stream_id text COLLATE "C" NOT NULL,
  version bigint NOT NULL,
  schema_version integer NOT NULL,
  state jsonb NOT NULL,
  time text NOT NULL,
  CONSTRAINT snapshots_pkey PRIMARY KEY (tenant_id, stream_id)
);
${['events', 'streams', 'checkpoints', 'snapshots'].map((table) => tenantPolicy(qschema, table)).join('\n')}
`;
}
