/** The NATS server for tests, unique prefixes per test, and clean-up of what a prefix created. */
import { randomUUID } from 'node:crypto';
import { NATS, serviceOrSkip } from '@eventloom/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export const NATS_SERVICE = NATS;

export const natsUrl = await serviceOrSkip(NATS_SERVICE);

/** A prefix no other test uses, so its streams are its own. */
export function uniquePrefix(): string {
  return `t-${randomUUID().slice(0, 13)}`;
}

/** Deletes every stream of `prefix` on `servers`. */
export async function deleteStreams(servers: string, prefix: string): Promise<number> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) if (name.startsWith(`${prefix}_`)) names.push(name);
    await Promise.all(names.map((name) => jsm.streams.delete(name).catch(() => false)));
    return names.length;
  } finally {
    await nc.close();
  }
}

export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
