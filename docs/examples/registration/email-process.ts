/**
 * An Email member in its own process, for the registration test: it opens the store named by its
 * arguments (`sqlite <file>` or `postgres <url> <schema>`), joins the group and prints
 * `sent <address>` per mail and `partitions <list>` as its holding changes, until it is killed.
 */
import type { EventStore } from '@eventloom/core';
import { openPostgresEventStore } from '@eventloom/postgres';
import { openSqliteEventStore } from '@eventloom/sqlite';
import { startEmail } from './flow.js';

const [kind, a, b] = process.argv.slice(2);
const store: EventStore =
  kind === 'sqlite' ? openSqliteEventStore({ filename: a! }) : await openPostgresEventStore({ connectionString: a!, schema: b!, poolSize: 2 });
const member = startEmail(store, `email-${process.pid}`, (to) => {
  process.stdout.write(`sent ${to}\n`);
});
let last = '';
setInterval(() => {
  const now = member.partitions.join(',');
  if (now !== last) process.stdout.write(`partitions ${now}\n`);
  last = now;
}, 50);
member.done.catch((error: unknown) => {
  process.stderr.write(`email member failed: ${String(error)}\n`);
  process.exit(1);
});
