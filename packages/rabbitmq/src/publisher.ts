/**
 * Publishing with publisher confirms: every publish resolves when the broker confirmed it (a
 * quorum queue confirms once a majority of its members wrote it), with up to `confirmWindow`
 * confirms awaited at once, so a batch costs one round trip per window, not per message. A
 * publish whose channel or connection was lost before its confirm is sent again on the new one
 * (the same message id: a redelivery the inbox absorbs), until the broker has been away longer
 * than `unavailableAfterMs`.
 */
import type { ConfirmChannel, Options } from 'amqplib';
import { InvalidArgumentError } from '@eventloom/core';
import { closeChannel, type ReconnectingConnection } from './connection.js';
import { directPublisher, type DirectPublish } from './direct-publish.js';
import { brokerText, unavailable } from './errors.js';
import type { ResolvedOptions } from './options.js';

export interface Publication {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly properties: Options.Publish;
}

/** The broker refused the publish (nack) or returned it unroutable (mandatory). */
export class PublishRefused extends Error {
  constructor(
    readonly publication: Publication,
    readonly reason: 'nack' | 'unroutable',
  ) {
    super(reason === 'unroutable' ? `no queue for routing key ${publication.routingKey} on exchange '${publication.exchange}'` : 'the broker refused it (nack)');
  }
}

interface ChannelEntry {
  readonly generation: number;
  readonly channel: ConfirmChannel;
  open: boolean;
  readonly returned: Set<string>;
  draining: Promise<void> | null;
  /** Publishes with frames written here rather than by amqplib's encoder; null if amqplib's insides differ. */
  readonly direct: DirectPublish | null;
}

export class Publisher {
  private entry: ChannelEntry | null = null;
  private opening: Promise<ChannelEntry> | null = null;
  private outstanding = 0;
  private readonly slotWaiters: (() => void)[] = [];

  constructor(
    private readonly connection: ReconnectingConnection,
    private readonly options: ResolvedOptions,
  ) {}

  /** Resolves once every publication is confirmed; rejects with `PublishRefused` (unroutable) or `TransportUnavailableError` (nacked or unconfirmed for longer than the bound). */
  async publishAll(publications: readonly Publication[]): Promise<void> {
    // The fast way first: while the channel is up and the window has room, publish without
    // awaiting anything between messages; what fails takes the careful way (publish) again.
    const entry = this.entry;
    const first: Promise<void>[] = [];
    let i = 0;
    if (entry && entry.open && !entry.draining) {
      for (; i < publications.length && this.outstanding < this.options.confirmWindow && entry.open && !entry.draining; i++) {
        const publication = publications[i]!;
        this.outstanding++;
        first.push(
          this.once(entry, publication).then(
            () => this.release(),
            (error: unknown) => {
              this.release();
              if ((error instanceof PublishRefused && error.reason === 'unroutable') || error instanceof InvalidArgumentError) throw error;
              return this.publish(publication);
            },
          ),
        );
      }
    }
    await Promise.all([...first, ...publications.slice(i).map((publication) => this.publish(publication))]);
  }

  async publish(publication: Publication): Promise<void> {
    const started = Date.now();
    let lastError: unknown;
    let pause = 25;
    for (;;) {
      const entry = await this.channel();
      await this.slot();
      try {
        await this.once(entry, publication);
        return;
      } catch (error) {
        if ((error instanceof PublishRefused && error.reason === 'unroutable') || error instanceof InvalidArgumentError) throw error;
        lastError = error;
      } finally {
        this.release();
      }
      // A nack: the queue could not take it now (its leader stopping or not yet elected); a lost
      // channel: its close is still on its way. Either way wait a little — a timer, so the socket's
      // events get their turn — and try again.
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(1_000, pause * 2);
      if (Date.now() - started > this.options.unavailableAfterMs) {
        throw unavailable(`a publish to '${publication.exchange || publication.routingKey}' was not confirmed within ${this.options.unavailableAfterMs} ms (${brokerText(lastError)})`, lastError);
      }
    }
  }

  private once(entry: ChannelEntry, publication: Publication): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = returnKey(publication.properties.messageId, publication.routingKey);
      let ok: boolean;
      try {
        const confirmed = (error: unknown): void => {
          const returned = publication.properties.mandatory === true && entry.returned.delete(key);
          if (error) {
            // A nack while the channel is open is the broker's refusal; a closed channel lost it.
            reject(entry.open ? new PublishRefused(publication, 'nack') : (error as Error));
          } else if (returned) reject(new PublishRefused(publication, 'unroutable'));
          else resolve();
        };
        const direct = entry.direct?.(publication.exchange, publication.routingKey, publication.content, publication.properties, confirmed) ?? null;
        ok = direct ?? entry.channel.publish(publication.exchange, publication.routingKey, publication.content, publication.properties, confirmed);
      } catch (error) {
        if (error instanceof RangeError) {
          // amqplib encodes headers into 64 KiB; the message's metadata (a header) is too big for AMQP.
          reject(new InvalidArgumentError('message', `its headers do not fit AMQP's 64 KiB header table (${error.message}); keep metadata small and put large values in data`));
          return;
        }
        // amqplib throws when the channel is closing: take it out of use now.
        entry.open = false;
        reject(error as Error);
        return;
      }
      if (!ok) {
        // The socket's buffer is full: let it drain before more publishes are written.
        entry.draining ??= new Promise<void>((done) => {
          const finish = (): void => {
            entry.channel.off('drain', finish);
            entry.channel.off('close', finish);
            entry.draining = null;
            done();
          };
          entry.channel.once('drain', finish);
          entry.channel.once('close', finish);
        });
      }
    });
  }

  private async channel(): Promise<ChannelEntry> {
    for (;;) {
      const live = await this.connection.get();
      const current = this.entry;
      if (current && current.open && current.generation === live.generation) {
        if (current.draining) await current.draining;
        return current;
      }
      this.opening ??= (async () => {
        try {
          const channel = await live.model.createConfirmChannel();
          const entry: ChannelEntry = { generation: live.generation, channel, open: true, returned: new Set(), draining: null, direct: directPublisher(channel) };
          channel.on('error', () => undefined);
          channel.on('close', () => {
            entry.open = false;
          });
          channel.on('return', (message: { properties: { messageId?: string }; fields: { routingKey: string } }) => {
            entry.returned.add(returnKey(message.properties.messageId, message.fields.routingKey));
          });
          this.entry = entry;
          return entry;
        } finally {
          this.opening = null;
        }
      })();
      try {
        return await this.opening;
      } catch {
        // The connection went away while the channel opened: wait for the next one.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  private async slot(): Promise<void> {
    while (this.outstanding >= this.options.confirmWindow) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.outstanding++;
  }

  private release(): void {
    this.outstanding--;
    this.slotWaiters.shift()?.();
  }

  async close(): Promise<void> {
    const entry = this.entry;
    this.entry = null;
    if (entry?.open) await closeChannel(entry.channel);
  }
}

function returnKey(messageId: unknown, routingKey: string): string {
  return `${String(messageId)}\u0000${routingKey}`;
}
