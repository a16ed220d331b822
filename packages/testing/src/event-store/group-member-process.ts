/**
 * A consumer-group member in its own process, for the suite's two-process test. Arguments: the
 * adapter's module (exporting `openStore(env)`), its env as JSON, then the group, partition
 * count, lease and stream prefix. It prints `handled <event id>` per event and
 * `partitions <list>` as its holding changes, and runs until it is killed.
 */
import { pathToFileURL } from 'node:url';
import type { EventStore } from '@eventloom/core';

const [module, env, group, partitions, leaseMs, prefix] = process.argv.slice(2) as [string, string, string, string, string, string];
const specifier = module.startsWith('/') ? pathToFileURL(module).href : module;
const { openStore } = (await import(specifier)) as { openStore(env: Record<string, string>): Promise<EventStore> };
const store = await openStore(JSON.parse(env) as Record<string, string>);
const member = store.subscribeGroup({
  group,
  partitions: Number(partitions),
  leaseMs: Number(leaseMs),
  filter: { streamPrefixes: [prefix] },
  pollIntervalMs: 30,
  logger: false,
  handler: (event) => {
    process.stdout.write(`handled ${event.id}\n`);
  },
});
let last = '';
setInterval(() => {
  const now = member.partitions.join(',');
  if (now !== last) process.stdout.write(`partitions ${now}\n`);
  last = now;
}, 50);
member.done.catch((error: unknown) => {
  process.stderr.write(`member failed: ${String(error)}\n`);
  process.exit(1);
});
