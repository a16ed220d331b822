/**
 * Dead letters in a stream of our own (JetStream has none): one message per dead letter, the
 * record as JSON, subject `<prefix>.dlq.<id>`, so `get` is one look-up by subject. Redrive
 * publishes the message back with `Nats-Msg-Id` = `redrive-<dead letter id>` (a redrive retried
 * after an interruption is dropped as a duplicate inside the dedupe window), then deletes the
 * dead letter; interrupted between the two, the dead letter is still listed and redriving it
 * again within the window does not duplicate the message.
 */
import { uuidv7, type DeadLetter, type DeadLetterFilter, type DeadLetterQueue } from '@eventloom/core';
import { matchesDeadLetter, type DeadLetterDraft } from '@eventloom/core/adapter';
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { isNotFound, mapped } from './errors.js';
import { deadLetterStream } from './names.js';
import type { Publisher } from './publisher.js';

export interface DeadLetterSettings {
  readonly prefix: string;
  readonly ensureStream: () => Promise<void>;
  /** Puts a dead letter's message back on its source, `msgId` as its Nats-Msg-Id. */
  readonly redeliver: (deadLetter: DeadLetter, msgId: string) => Promise<void>;
}

interface Stored {
  readonly seq: number;
  readonly deadLetter: DeadLetter;
}

export class NatsDeadLetters implements DeadLetterQueue {
  private readonly names;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly publisher: Publisher,
    private readonly settings: DeadLetterSettings,
  ) {
    this.names = deadLetterStream(settings.prefix);
  }

  /**
   * Stores a dead letter. The same message of a consumer dead-lettered twice inside the dedupe
   * window is stored once: a retry after a lost PubAck, or a redelivery after the ack that
   * followed the dead letter was lost (a server restart) — the id leaves out the delivery count,
   * which differs then (the restart test stored 26 and 30 dead letters for 20 messages with it).
   */
  async add(message: JsMsg, draft: DeadLetterDraft): Promise<DeadLetter> {
    await this.settings.ensureStream();
    const deadLetter: DeadLetter = { id: uuidv7(), ...draft };
    await this.publisher.publishAll([
      {
        subject: this.names.subject(deadLetter.id),
        headers: { 'Eventloom-Reason': draft.reason, 'Eventloom-Consumer': draft.consumer, 'content-type': 'application/json' },
        body: new TextEncoder().encode(JSON.stringify(deadLetter)),
        msgId: `dead-${message.info.stream}-${message.info.consumer}-${message.info.streamSequence}`,
      },
    ]);
    return deadLetter;
  }

  async list(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter[]> {
    return (await this.matching(filter)).map((s) => s.deadLetter);
  }

  async get(id: string): Promise<DeadLetter | null> {
    if (!/^[0-9a-fA-F-]{1,64}$/.test(id)) return null;
    const stored = await mapped('read a dead letter', async () => {
      try {
        return await this.jsm.streams.getMessage(this.names.stream, { last_by_subj: this.names.subject(id) });
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    });
    return stored ? (stored.json<DeadLetter>() as DeadLetter) : null;
  }

  async redrive(filter: DeadLetterFilter = {}): Promise<number> {
    let count = 0;
    for (const { seq, deadLetter } of await this.matching(filter)) {
      await this.settings.redeliver(deadLetter, `redrive-${deadLetter.id}`);
      if (await this.remove(seq)) count++;
    }
    return count;
  }

  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    let count = 0;
    for (const { seq } of await this.matching(filter)) if (await this.remove(seq)) count++;
    return count;
  }

  private async remove(seq: number): Promise<boolean> {
    return mapped('delete a dead letter', async () => {
      try {
        return await this.jsm.streams.deleteMessage(this.names.stream, seq, false);
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    });
  }

  /** Every stored dead letter matching `filter`, oldest first, read through an ordered consumer. */
  private async matching(filter: DeadLetterFilter): Promise<Stored[]> {
    await this.settings.ensureStream();
    return mapped('list dead letters', async () => {
      const info = await this.jsm.streams.info(this.names.stream);
      const total = info.state.messages;
      const found: Stored[] = [];
      if (total === 0) return found;
      const reader = await this.js.consumers.get(this.names.stream, { deliver_policy: DeliverPolicy.All });
      let seen = 0;
      try {
        while (seen < total) {
          const batch = await reader.fetch({ max_messages: Math.min(total - seen, 1_000), expires: 2_000 });
          let got = 0;
          let last = false;
          for await (const m of batch) {
            got++;
            seen++;
            const deadLetter = m.json<DeadLetter>() as DeadLetter;
            if (matchesDeadLetter(deadLetter, filter)) found.push({ seq: m.seq, deadLetter });
            if (m.info.pending === 0) last = true;
          }
          if (got === 0 || last) break;
        }
      } finally {
        await reader.delete().catch(() => undefined);
      }
      return filter.limit === undefined ? found : found.slice(0, filter.limit);
    });
  }
}
