/**
 * Publishing on a confirm channel with the frames `encodePublish` wrote, handed to the channel's
 * own write buffer the way amqplib's `ConfirmChannel.publish` hands its own: the frames into the
 * buffer amqplib's multiplexer drains to the socket, then the confirm callback queued, so
 * amqplib matches the broker's confirms to callbacks as for any publish.
 *
 * This uses amqplib's channel internals (`ch`, `connection.channels`, `pushConfirmCallback`,
 * unchanged from 0.10 to 2.x). A channel without them gets `null` here and is published on
 * through amqplib's API; `frames.test.ts` checks that this way is taken on the pinned version.
 */
import type { ConfirmChannel, Options } from 'amqplib';
import { encodePublish } from './frames.js';

interface ChannelInternals {
  readonly ch: number;
  readonly connection: {
    readonly channels: readonly ({ readonly buffer: { write(chunk: Buffer): boolean } } | null | undefined)[];
    readonly frameMax: number;
    sentSinceLastCheck: boolean;
  };
  pushConfirmCallback(callback: (error: unknown) => void): void;
}

/**
 * Publishes one message; `true`/`false` as amqplib's `publish` (false: the buffer is full, wait
 * for `drain`), `null` when this message needs amqplib's encoder (nothing written then).
 * @throws Error when the channel has closed (as amqplib's publish does)
 */
export type DirectPublish = (exchange: string, routingKey: string, content: Buffer, properties: Options.Publish, confirmed: (error: unknown) => void) => boolean | null;

export function directPublisher(channel: ConfirmChannel): DirectPublish | null {
  const internals = channel as unknown as Partial<ChannelInternals>;
  const connection = internals.connection;
  if (
    typeof internals.ch !== 'number' ||
    typeof internals.pushConfirmCallback !== 'function' ||
    connection === undefined ||
    !Array.isArray(connection.channels) ||
    typeof connection.frameMax !== 'number'
  ) {
    return null;
  }
  const ch = internals.ch;
  const self = channel as unknown as ChannelInternals;
  return (exchange, routingKey, content, properties, confirmed) => {
    // amqplib replaces a closed channel's send methods with ones that throw; so does this.
    const slot = connection.channels[ch];
    if (Object.hasOwn(channel, 'sendMessage') || slot === null || slot === undefined) throw new Error('Channel closed');
    const frames = encodePublish(ch, connection.frameMax, exchange, routingKey, content, properties);
    if (frames === null) return null;
    connection.sentSinceLastCheck = true;
    const ok = slot.buffer.write(frames);
    self.pushConfirmCallback(confirmed);
    return ok;
  };
}
