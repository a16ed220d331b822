/** Transports for the tests on the real broker: unique dead-letter queues, and everything they declared deleted after. */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import type { Transport } from '@eventloom/core';
import { createTransport } from '@eventloom/core/adapter';
import { RabbitMqDriver, type RabbitMqTransportOptions } from '../src/index.js';

export interface Made {
  readonly driver: RabbitMqDriver;
  readonly transport: Transport;
}

export class Fixtures {
  private readonly made: Made[] = [];
  private readonly extraQueues = new Set<string>();
  /** One dead-letter queue for every transport of a test, so the test sees only its own. */
  readonly deadLetterQueue = `dl-${randomUUID()}`;

  constructor(readonly url: string) {}

  make(options: RabbitMqTransportOptions = {}): Made {
    const driver = new RabbitMqDriver({ url: this.url, deadLetterQueue: this.deadLetterQueue, ...options });
    const made = { driver, transport: createTransport(driver, { source: options.source ?? 'rabbitmq-tests' }) };
    this.made.push(made);
    return made;
  }

  /** A queue a test declared with a plain client, deleted after. */
  track(queue: string): void {
    this.extraQueues.add(queue);
  }

  async cleanup(): Promise<void> {
    const queues = new Set<string>([this.deadLetterQueue, ...this.extraQueues]);
    const exchanges = new Set<string>();
    const made = this.made.splice(0);
    // Bounded: the transport of a crashed "process" may not stop cleanly, and need not.
    await Promise.all(made.map(({ transport }) => within(transport.close(), 10_000)));
    for (const { driver } of made) {
      const declared = driver.declaredResources();
      for (const q of declared.queues) queues.add(q);
      for (const x of declared.exchanges) exchanges.add(x);
    }
    await deleteAll(this.url, [...queues], [...exchanges]);
  }
}

export async function deleteAll(url: string, queues: readonly string[], exchanges: readonly string[]): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    for (const exchange of exchanges) await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await connection.close();
  }
}

export const unique = (prefix: string): string => `${prefix}-${randomUUID()}`;

/** Resolves once `check` holds, polling; fails after `timeoutMs` with what it saw last. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
  if (process.env.EVENTLOOM_DEBUG_CLEANUP) console.log(`closed in ${Date.now() - started} ms`);
}
