/**
 * Publishing awaited on PubAcks, a window of them outstanding (no round trip per message).
 * Each message carries `Nats-Msg-Id` = its id, so a publish retried after a lost PubAck (or a
 * reconnect) is dropped by the stream as a duplicate inside the dedupe window. JetStream 2.9
 * has no atomic batch: when a batch fails part-way, what was acknowledged stays stored, and the
 * rest is retried with the same ids until `unavailableAfterMs` has passed.
 */
import { TransportUnavailableError } from '@eventloom/core';
import { headers as natsHeaders, MsgHdrsImpl, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { isTransient, KIND, toEventloomError } from './errors.js';
import { MSG_ID_HEADER } from './headers.js';
import { PubAcks } from './pub-acks.js';

export interface OutgoingWire {
  readonly subject: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly msgId: string;
}

export interface PublisherSettings {
  /** PubAcks outstanding at most. */
  readonly window: number;
  /** Give up (TransportUnavailableError) when the server has not answered for this long. */
  readonly unavailableAfterMs: number;
  /** Per-attempt wait for a PubAck. */
  readonly ackTimeoutMs: number;
}

export class Publisher {
  private readonly acks: PubAcks;

  constructor(
    nc: NatsConnection,
    private readonly settings: PublisherSettings,
    /** Called before a retry, when the failure may mean a missing stream (recreate it). */
    private readonly beforeRetry: (subject: string) => Promise<void>,
  ) {
    this.acks = new PubAcks(nc);
  }

  close(): void {
    this.acks.close();
  }

  async publishAll(messages: readonly OutgoingWire[]): Promise<void> {
    if (messages.length === 0) return;
    const deadline = Date.now() + this.settings.unavailableAfterMs;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < messages.length) {
        const message = messages[next++]!;
        await this.publishOne(message, deadline);
      }
    };
    const lanes = Array.from({ length: Math.min(this.settings.window, messages.length) }, lane);
    const results = await Promise.allSettled(lanes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async publishOne(message: OutgoingWire, deadline: number): Promise<void> {
    const h = wireHeaders(message);
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.acks.publish(message.subject, message.body, h, this.settings.ackTimeoutMs);
        return;
      } catch (error) {
        lastError = error;
        if (!isTransient(error)) throw toEventloomError(error, `publish to ${message.subject}`);
      }
      if (Date.now() >= deadline) break;
      await sleep(Math.min(50 * 2 ** attempt, 1_000));
      await this.beforeRetry(message.subject).catch(() => undefined);
    }
    throw new TransportUnavailableError(
      KIND,
      `no PubAck for ${message.subject} within ${this.settings.unavailableAfterMs} ms (messages of this batch acknowledged before stay stored; sending again is safe: Nats-Msg-Id dedupes)`,
      { cause: lastError },
    );
  }
}

/**
 * The message's headers and its Nats-Msg-Id, as the client would write them. Built from a record
 * in one step: the client's `set` looks the name up twice and copies it per header (~2 % of a
 * publish+consume profile for the 9 CloudEvents headers). The names are ours or came off the wire
 * as header names; a value with a line break (which would end the header block) goes through
 * `set`, which refuses it.
 */
function wireHeaders(message: OutgoingWire): MsgHdrs {
  const record: Record<string, string[]> = {};
  for (const key in message.headers) {
    const value = message.headers[key]!;
    if (value.includes('\n') || value.includes('\r')) return checkedHeaders(message);
    record[key] = [value];
  }
  record[MSG_ID_HEADER] = [message.msgId];
  return MsgHdrsImpl.fromRecord(record);
}

function checkedHeaders(message: OutgoingWire): MsgHdrs {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(message.headers)) h.set(key, value);
  h.set(MSG_ID_HEADER, message.msgId);
  return h;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
