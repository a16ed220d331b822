/**
 * The exactly-once acceptance harness: a relay process publishes the store's log to a topic with
 * two groups, consumer processes handle each message in both — one group's effects guarded by the
 * inbox, the other's written plainly — and the processes are SIGKILLed at the two worst moments,
 * many times: the relay between a publish and its checkpoint, a consumer between its write and its
 * ack. Dead processes are started again until everything is relayed and handled. The inbox-guarded
 * effects then happen exactly once per message; the plain ones show the duplicates (so the test
 * can fail both ways).
 *
 * The parent side (`runExactlyOnce`) is here; each adapter supplies how to start its child
 * processes and how to count, and the children call `runExactlyOnceChild`.
 */
import type { ChildProcess } from 'node:child_process';
import { inboxHandlers, startOutboxRelay, type Event, type EventStore, type Inbox, type Transport } from '@eventloom/core';

export const EXACTLY_ONCE_TOPIC = 'exactly-once';
export const GUARDED_GROUP = 'guarded';
export const PLAIN_GROUP = 'plain';
export const RELAY_NAME = 'exactly-once';

export interface EffectCounts {
  readonly guardedRows: number;
  readonly guardedDistinct: number;
  readonly plainRows: number;
  readonly plainDistinct: number;
}

export interface ExactlyOnceOptions {
  /** Messages (events appended before the run). */
  readonly messages: number;
  /** Relay processes that kill themselves between a publish and its checkpoint. */
  readonly relayKills: number;
  /** Consumer processes that kill themselves between a write and its ack. */
  readonly consumerKills: number;
  /** Consumer processes running side by side. Default 2. */
  readonly consumers?: number;
  /** Starts a child: `role` and `killAfter` (publishes or handled messages before SIGKILL; 0 = never) go on its command line. */
  spawn(role: 'relay' | 'consumer', killAfter: number): ChildProcess;
  counts(): Promise<EffectCounts>;
  /** True once the relay's checkpoint is at the head and neither group has a message left. */
  settled(): Promise<boolean>;
  readonly timeoutMs?: number;
}

export interface ExactlyOnceResult extends EffectCounts {
  /** Children that died by SIGKILL, by role. */
  readonly killed: { readonly relay: number; readonly consumer: number };
  readonly elapsedMs: number;
}

interface Running {
  readonly role: 'relay' | 'consumer';
  readonly child: ChildProcess;
  exited: boolean;
  signal: NodeJS.Signals | null;
  stderr: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The run's size: `npm test`'s, or the acceptance soak's (EVENTLOOM_SOAK=1: 10,000 messages, 12 relay and 24 consumer kills). */
export function exactlyOnceSize(soak: boolean): Pick<ExactlyOnceOptions, 'messages' | 'relayKills' | 'consumerKills'> & { readonly timeoutMs: number } {
  return soak ? { messages: 10_000, relayKills: 12, consumerKills: 24, timeoutMs: 540_000 } : { messages: 1_000, relayKills: 3, consumerKills: 4, timeoutMs: 100_000 };
}

/**
 * Before the run: both groups declared (so neither misses a message) and `messages` events
 * appended, ten per stream — the stream is the partition key, so keys run side by side, each in
 * order. Returns the head the relay's checkpoint must reach.
 */
export async function seedExactlyOnce(store: EventStore, transport: Transport, messages: number): Promise<bigint> {
  await transport.declare([
    { topic: EXACTLY_ONCE_TOPIC, group: GUARDED_GROUP },
    { topic: EXACTLY_ONCE_TOPIC, group: PLAIN_GROUP },
  ]);
  for (let at = 0; at < messages; at += 10) {
    await store.appendToStream(`user-${at / 10}`, Array.from({ length: Math.min(10, messages - at) }, (_, i) => ({ type: 'Noted', data: { n: at + i } })));
  }
  return store.headPosition();
}

/** Effect counts from rows of `kind, count(*), count(DISTINCT message_id)` grouped by kind. */
export function effectCounts(rows: readonly { readonly kind: string; readonly rows: number; readonly distinct: number }[]): EffectCounts {
  const byKind = new Map(rows.map((row) => [row.kind, row]));
  return {
    guardedRows: byKind.get('guarded')?.rows ?? 0,
    guardedDistinct: byKind.get('guarded')?.distinct ?? 0,
    plainRows: byKind.get('plain')?.rows ?? 0,
    plainDistinct: byKind.get('plain')?.distinct ?? 0,
  };
}

export async function runExactlyOnce(options: ExactlyOnceOptions): Promise<ExactlyOnceResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const killed = { relay: 0, consumer: 0 };
  let relayKillsLeft = options.relayKills;
  let consumerKillsLeft = options.consumerKills;
  // Spread the kills over the run: each doomed child dies after a share of the work, give or take.
  const relayShare = Math.max(1, Math.floor(options.messages / 50 / (options.relayKills + 1)));
  const consumerShare = Math.max(5, Math.floor((options.messages * 2) / (options.consumers ?? 2) / (options.consumerKills + 1)));
  const jitter = (n: number): number => Math.max(1, Math.round(n * (0.5 + Math.random())));
  const running: Running[] = [];
  let lastTrace = -1;
  const start = (role: 'relay' | 'consumer'): void => {
    let killAfter = 0;
    if (role === 'relay' && relayKillsLeft > 0) {
      relayKillsLeft--;
      killAfter = jitter(relayShare);
    } else if (role === 'consumer' && consumerKillsLeft > 0) {
      consumerKillsLeft--;
      killAfter = jitter(consumerShare);
    }
    const child = options.spawn(role, killAfter);
    const entry: Running = { role, child, exited: false, signal: null, stderr: '' };
    child.stderr?.on('data', (chunk: Buffer) => (entry.stderr = (entry.stderr + chunk.toString()).slice(-4_000)));
    child.on('exit', (_code, signal) => {
      entry.exited = true;
      entry.signal = signal;
    });
    running.push(entry);
  };
  try {
    start('relay');
    for (let i = 0; i < (options.consumers ?? 2); i++) start('consumer');
    for (;;) {
      if (Date.now() - started > timeoutMs) {
        const counts = await options.counts();
        throw new Error(`not settled in ${timeoutMs} ms: ${JSON.stringify({ counts, killed })}; last errors: ${running.map((r) => r.stderr).filter(Boolean).slice(-2).join('\n')}`);
      }
      for (const entry of [...running]) {
        if (!entry.exited) continue;
        running.splice(running.indexOf(entry), 1);
        if (entry.signal !== 'SIGKILL') throw new Error(`a ${entry.role} process ended without being killed (${entry.signal ?? 'exit'}): ${entry.stderr}`);
        killed[entry.role]++;
        start(entry.role);
      }
      if (relayKillsLeft === 0 && consumerKillsLeft === 0 && running.every((r) => !r.exited) && (await options.settled())) break;
      if (process.env.EVENTLOOM_EXACTLY_ONCE_TRACE === '1' && Math.floor((Date.now() - started) / 2_000) !== lastTrace) {
        lastTrace = Math.floor((Date.now() - started) / 2_000);
        console.log(`exactly-once +${Date.now() - started} ms`, JSON.stringify({ counts: await options.counts(), killed, running: running.map((r) => r.role) }));
      }
      await sleep(100);
    }
  } finally {
    for (const entry of running) if (!entry.exited) entry.child.kill('SIGKILL');
    await Promise.all(running.map((entry) => (entry.exited ? undefined : new Promise((resolve) => entry.child.once('exit', resolve)))));
  }
  return { ...(await options.counts()), killed, elapsedMs: Date.now() - started };
}

/** What a child opens: the store, a transport on it, the inbox, and the two ways of writing an effect. */
export interface ExactlyOnceChildParts<Tx> {
  readonly store: EventStore;
  readonly transport: Transport;
  readonly inbox: Inbox<Tx>;
  writeGuarded(tx: Tx, messageId: string): Promise<void> | void;
  writePlain(messageId: string): Promise<void>;
}

type Noted = Event<'Noted', { n: number }>;

/**
 * The child's side: `role` and `killAfter` from the command line. Prints `ready` when running;
 * SIGKILLs itself at the chosen moment; never exits otherwise (the parent kills it at the end).
 */
export async function runExactlyOnceChild<Tx>(role: string, killAfter: number, parts: ExactlyOnceChildParts<Tx>): Promise<void> {
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable');
  };
  if (role === 'relay') {
    let published = 0;
    startOutboxRelay({
      store: parts.store,
      transport: parts.transport,
      name: RELAY_NAME,
      route: () => ({ topic: EXACTLY_ONCE_TOPIC }),
      batchSize: 50,
      leaseMs: 1_000,
      pollIntervalMs: 50,
      logger: false,
      // Confirmed by the transport, the checkpoint not yet moved: the worst moment for the relay.
      afterPublish: () => {
        if (killAfter > 0 && ++published >= killAfter) die();
      },
    });
  } else {
    let handled = 0;
    const maybeDie = (): void => {
      if (killAfter > 0 && ++handled >= killAfter) die();
    };
    const guarded = inboxHandlers<Noted, Tx>(parts.inbox, GUARDED_GROUP, {
      Noted: (message, { tx }) => parts.writeGuarded(tx, message.id),
    });
    const options = { logger: false as const, visibilityTimeoutMs: 1_000, concurrency: 4, failurePolicy: { maxAttempts: 1_000, retryDelayMs: 20, maxRetryDelayMs: 200 } };
    // Written and committed, not yet acknowledged: the worst moment for a consumer.
    parts.transport.consume<Noted>(
      { topic: EXACTLY_ONCE_TOPIC, group: GUARDED_GROUP },
      {
        Noted: async (message, context) => {
          await guarded.Noted!(message, context);
          maybeDie();
        },
      },
      options,
    );
    parts.transport.consume<Noted>(
      { topic: EXACTLY_ONCE_TOPIC, group: PLAIN_GROUP },
      {
        Noted: async (message) => {
          await parts.writePlain(message.id);
          maybeDie();
        },
      },
      options,
    );
  }
  process.stdout.write('ready\n');
  await new Promise(() => undefined);
}
