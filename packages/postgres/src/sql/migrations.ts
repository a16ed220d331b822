/** The versioned migrations of a store's schema, in order. Add new ones at the end; never edit old ones. */
import type { StoreNames } from '../names.js';
import { functionsSql } from './functions.js';
import { groupsSql, groupsV4Grants, groupsV4Sql } from './groups.js';
import { logHeadsGrants, logHeadsSql } from './log-heads.js';
import { queueGrants, queueSql } from '../messaging/sql.js';
import { partitionReadSql, readGrants, readsSql } from './reads.js';
import { subscriptionsGrants, subscriptionsSql } from './subscriptions.js';
import { tablesSql } from './tables.js';
import { typeIndexSql } from './type-index.js';
import { outboxInboxGrants, outboxInboxSql } from '../messaging/outbox-sql.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (names: StoreNames) => string;
  /**
   * What the store's role may do with this migration's objects: read and write rows (row-level
   * security decides which), nothing else. Run again whenever the role is created anew.
   */
  readonly grants: (names: StoreNames) => string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'event store',
    sql: (names) => tablesSql(names) + functionsSql(names) + readsSql(names),
    grants: ({ qschema: s, qrole: r }) => `
GRANT USAGE ON SCHEMA ${s} TO ${r};
GRANT SELECT, INSERT, UPDATE ON ${s}.events, ${s}.streams TO ${r};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.checkpoints, ${s}.snapshots TO ${r};
GRANT EXECUTE ON FUNCTION ${s}.append, ${s}.delete_stream, ${s}.set_stream_metadata TO ${r};
${readGrants(s, r)}`,
  },
  {
    version: 2,
    name: 'consumer groups',
    sql: (names) => groupsSql(names) + partitionReadSql(names),
    grants: ({ qschema: s, qrole: r }) => `
GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.group_members, ${s}.group_partitions TO ${r};
GRANT EXECUTE ON FUNCTION ${s}.partition_of, ${s}.group_heartbeat, ${s}.read_partition TO ${r};`,
  },
  {
    version: 3,
    name: 'log heads',
    sql: logHeadsSql,
    grants: logHeadsGrants,
  },
  {
    version: 4,
    name: 'consumer groups: one partition count per group, sticky assignment, fenced checkpoints, resizing',
    sql: groupsV4Sql,
    grants: groupsV4Grants,
  },
  {
    version: 5,
    name: 'subscription leases and dead letters',
    sql: subscriptionsSql,
    grants: subscriptionsGrants,
  },
  {
    version: 6,
    name: 'durable queues: messages, partition keys, topic groups, dead letters',
    sql: queueSql,
    grants: queueGrants,
  },
  {
    version: 7,
    name: 'outbox messages, outbox relays, inbox records',
    sql: outboxInboxSql,
    grants: outboxInboxGrants,
  },
  {
    version: 8,
    name: 'reads filtered by event type through an index',
    sql: typeIndexSql,
    // read_log keeps its grant when it is replaced; the index needs none.
    grants: () => '',
  },
];
