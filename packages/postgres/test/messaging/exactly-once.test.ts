/**
 * Exactly-once effects on PostgreSQL, with real processes: a relay process killed (SIGKILL, by
 * itself) between publishing a batch and moving its checkpoint, consumer processes killed between
 * committing an effect and acknowledging the message, again and again until every message is
 * relayed and handled. The inbox-guarded effects happen exactly once per message; the same
 * handling without the inbox writes duplicates. `npm test` runs 1,000 messages; EVENTLOOM_SOAK=1
 * runs 10,000 with more kills.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { effectCounts, exactlyOnceSize, expectExactlyOnce, RELAY_NAME, runExactlyOnce, seedExactlyOnce } from '@eventloom/testing';
import { it } from 'vitest';
import { dropPostgresEventStore, openPostgresEventStore, quoteIdent } from '../../src/index.js';
import { openPostgresTransport } from '../../src/messaging/index.js';
import { adminClient, connectionString, postgresUrl } from './support.js';
import { uniqueSchema } from '../support.js';

const CHILD = fileURLToPath(new URL('./fixtures/exactly-once-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SOAK = process.env.EVENTLOOM_SOAK === '1';
const SIZE = exactlyOnceSize(SOAK);
const MESSAGES = SIZE.messages;

it.skipIf(!postgresUrl)(`delivers ${MESSAGES} messages' inbox-guarded effects exactly once through relay and consumer kills`, { timeout: SOAK ? 600_000 : 120_000 }, async () => {
  const schema = uniqueSchema('eleo');
  const q = quoteIdent(schema);
  const store = await openPostgresEventStore({ connectionString, schema, poolSize: 2 });
  const admin = await adminClient();
  try {
    await admin.query(`CREATE TABLE ${q}.effects (kind text NOT NULL, message_id text NOT NULL)`);
    const transport = await openPostgresTransport({ store });
    const head = await seedExactlyOnce(store, transport, MESSAGES);
    await transport.close();
    await store.close();

    const result = await runExactlyOnce({
      ...SIZE,
      spawn: (role, killAfter) =>
        spawn(process.execPath, ['--conditions=eventloom-source', '--import', 'tsx', CHILD, connectionString, schema, role, String(killAfter)], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      counts: async () => {
        const { rows } = await admin.query<{ kind: string; rows: number; distinct: number }>(
          `SELECT kind, count(*)::int AS rows, count(DISTINCT message_id)::int AS "distinct" FROM ${q}.effects GROUP BY kind`,
        );
        return effectCounts(rows);
      },
      settled: async () => {
        const { rows } = await admin.query<{ at: string | null; pending: number }>(
          `SELECT (SELECT position::text FROM ${q}.checkpoints WHERE subscription_id = $1) AS at, (SELECT count(*)::int FROM ${q}.queue_messages) AS pending`,
          [`outbox-relay:${RELAY_NAME}`],
        );
        const { at, pending } = rows[0]!;
        return at !== null && BigInt(at) >= head && pending === 0;
      },
    });
    console.log(`postgres exactly-once: ${JSON.stringify(result)}`);
    expectExactlyOnce(result, MESSAGES);
  } finally {
    await admin.end();
    await dropPostgresEventStore({ connectionString, schema });
  }
});

