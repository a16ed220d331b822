/**
 * Declares what the transport needs, idempotently: quorum queues, the topic exchanges and their
 * bindings, the shared delay and return exchanges, delay queues and the dead-letter queue. Each
 * resource is declared once per connection (cached); a declaration that conflicts with what
 * exists (406 PRECONDITION_FAILED, which closes the channel) is a `TopologyConflictError`, and
 * the next declaration opens a new channel.
 */
import type { Channel } from 'amqplib';
import type { ConsumeSource } from '@eventloom/core';
import type { ReconnectingConnection } from './connection.js';
import { declarationError, replyCode } from './errors.js';
import { DELAY_HEADER, exchangeTarget, queueTarget, sharedNames, sourceQueues, TARGET_HEADER, type SharedNames, type SourceQueues } from './names.js';
import type { ResolvedOptions } from './options.js';

const QUORUM = { 'x-queue-type': 'quorum' } as const;

export class Topology {
  readonly shared: SharedNames;
  private channel: { readonly generation: number; readonly channel: Channel; open: boolean } | null = null;
  private opening: Promise<Channel> | null = null;
  private readonly done = new Map<string, { generation: number; promise: Promise<void> }>();
  /** Everything this transport declared but the shared resources, so tests can delete it. */
  readonly declaredQueues = new Set<string>();
  readonly declaredExchanges = new Set<string>();

  constructor(
    private readonly connection: ReconnectingConnection,
    private readonly options: ResolvedOptions,
  ) {
    this.shared = sharedNames(options.namespace);
  }

  queuesOf(source: ConsumeSource): SourceQueues {
    return sourceQueues(source, this.options.partitions);
  }

  /** The queues of a queue source or a topic group, bound where they must be. */
  async ensureSource(source: ConsumeSource): Promise<SourceQueues> {
    const queues = this.queuesOf(source);
    const key = 'queue' in source ? `queue ${source.queue}` : `topic ${source.topic} group ${source.group}`;
    await this.once(key, async () => {
      await this.ensureShared();
      if (queues.exchange !== null) await this.ensureTopic(queues.exchange);
      const all = [queues.unkeyed, ...queues.partitions];
      await Promise.all(
        all.map((queue, i) =>
          this.declare(`queue ${queue}`, async (channel) => {
            await channel.assertQueue(queue, { durable: true, arguments: i === 0 ? QUORUM : { ...QUORUM, 'x-single-active-consumer': true } });
            this.declaredQueues.add(queue);
            await channel.bindQueue(queue, this.shared.returnExchange, '', { 'x-match': 'all', [TARGET_HEADER]: queueTarget(queue) });
            if (queues.exchange !== null) await channel.bindQueue(queue, queues.exchange, i === 0 ? 'u' : `p${i - 1}`);
          }),
        ),
      );
    });
    return queues;
  }

  /** A topic's exchange, reachable from the return exchange (delayed publishes). */
  async ensureTopic(topic: string): Promise<void> {
    await this.once(`topic ${topic}`, async () => {
      await this.ensureShared();
      await this.declare(`exchange ${topic}`, async (channel) => {
        await channel.assertExchange(topic, 'direct', { durable: true });
        this.declaredExchanges.add(topic);
        await channel.bindExchange(topic, this.shared.returnExchange, '', { 'x-match': 'all', [TARGET_HEADER]: exchangeTarget(topic) });
      });
    });
  }

  /** A delay queue whose messages expire after `ms` into the return exchange. */
  async ensureDelay(ms: number): Promise<void> {
    await this.once(`delay ${ms}`, async () => {
      await this.ensureShared();
      const queue = this.shared.delayQueue(ms);
      await this.declare(`queue ${queue}`, async (channel) => {
        await channel.assertQueue(queue, {
          durable: true,
          arguments: {
            ...QUORUM,
            'x-message-ttl': ms,
            'x-dead-letter-exchange': this.shared.returnExchange,
            // At-least-once dead-lettering needs reject-publish; a delayed message is never lost between the queues.
            'x-dead-letter-strategy': 'at-least-once',
            'x-overflow': 'reject-publish',
          },
        });
        await channel.bindQueue(queue, this.shared.delayExchange, '', { 'x-match': 'all', [DELAY_HEADER]: String(ms) });
      });
    });
  }

  async ensureDeadLetterQueue(): Promise<void> {
    await this.once('dead letters', () =>
      this.declare(`queue ${this.options.deadLetterQueue}`, async (channel) => {
        await channel.assertQueue(this.options.deadLetterQueue, { durable: true, arguments: QUORUM });
        this.declaredQueues.add(this.options.deadLetterQueue);
      }),
    );
  }

  private async ensureShared(): Promise<void> {
    await this.once('shared', () =>
      this.declare(`exchanges ${this.shared.delayExchange} and ${this.shared.returnExchange}`, async (channel) => {
        await channel.assertExchange(this.shared.delayExchange, 'headers', { durable: true });
        await channel.assertExchange(this.shared.returnExchange, 'headers', { durable: true });
      }),
    );
  }

  /** Forgets what was declared (a queue was found missing), so the next call declares again. */
  forget(): void {
    this.done.clear();
  }

  private async once(key: string, work: () => Promise<void>): Promise<void> {
    const { generation } = await this.connection.get();
    const known = this.done.get(key);
    if (known && known.generation === generation) return known.promise;
    const promise = work();
    this.done.set(key, { generation, promise });
    promise.catch(() => {
      if (this.done.get(key)?.promise === promise) this.done.delete(key);
    });
    return promise;
  }

  private async declare(resource: string, work: (channel: Channel) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await work(await this.declarationChannel());
        return;
      } catch (error) {
        // Another declaration's refusal closed the shared channel under this one: try again on a new one.
        if (replyCode(error) === undefined && attempt < 3 && !this.connection.isClosed) continue;
        throw declarationError(error, resource);
      }
    }
  }

  private async declarationChannel(): Promise<Channel> {
    const live = await this.connection.get();
    const current = this.channel;
    if (current && current.open && current.generation === live.generation) return current.channel;
    this.opening ??= (async () => {
      try {
        const channel = await live.model.createChannel();
        const entry = { generation: live.generation, channel, open: true };
        // A refused declaration closes the channel with an error; the caller gets it typed.
        channel.on('error', () => undefined);
        channel.on('close', () => {
          entry.open = false;
        });
        this.channel = entry;
        return channel;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }
}
