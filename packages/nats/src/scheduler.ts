/**
 * Delayed delivery. JetStream 2.9 cannot schedule a message, so a delayed message is first
 * stored in the transport's delay stream (`<prefix>_delay`, work-queue retention, subject
 * `<prefix>.delay.<message id>`) with where it goes and when. Every transport process that
 * consumes runs this scheduler on one shared durable consumer: a message not yet due is
 * nak'ed with the time left (JetStream redelivers it then, with no timer of ours to lose in a
 * crash); a due one is published to its destination with `Nats-Msg-Id` = its id (a scheduler
 * that dies between publishing and acking publishes again, and the stream drops the
 * duplicate), then acked. Cancelling deletes it from the delay stream by subject.
 */
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { DELIVER_AT_HEADER, headerRecord, MSG_ID_HEADER, TARGET_HEADER } from './headers.js';
import type { Publisher } from './publisher.js';
import { sleep } from './publisher.js';

export const SCHEDULER_CONSUMER = 'scheduler';

export class DelayScheduler {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private batch: ConsumerMessages | null = null;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly publisher: Publisher,
    private readonly prepare: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts the loop once; later calls are no-ops. */
  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    // A pull waits up to its expiry on the server; stopping should not.
    void this.batch?.close().catch(() => undefined);
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let consumer: Consumer | null = null;
    while (!signal.aborted) {
      try {
        if (!consumer) {
          await this.prepare();
          consumer = await this.js.consumers.get(this.stream, SCHEDULER_CONSUMER);
        }
        const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 });
        this.batch = batch;
        // Stopped meanwhile: end the pull now (close resolves once the loop below has drained it).
        if (signal.aborted) void batch.close();
        const due: JsMsg[] = [];
        for await (const m of batch) {
          const at = Date.parse(m.headers?.get(DELIVER_AT_HEADER) ?? '');
          const wait = Number.isFinite(at) ? at - Date.now() : 0;
          if (wait > 2) m.nak(wait);
          else due.push(m);
          if (signal.aborted) break;
        }
        if (due.length > 0) await this.deliver(due);
      } catch (error) {
        if (signal.aborted) break;
        consumer = null;
        this.onError(error);
        await sleep(500, signal);
      }
    }
  }

  private async deliver(messages: readonly JsMsg[]): Promise<void> {
    await this.publisher.publishAll(
      messages.map((m) => {
        const headers = headerRecord(m.headers);
        const target = headers[TARGET_HEADER] ?? '';
        const msgId = headers[MSG_ID_HEADER] ?? `${m.info.stream}-${m.seq}`;
        delete headers[TARGET_HEADER];
        delete headers[DELIVER_AT_HEADER];
        delete headers[MSG_ID_HEADER];
        return { subject: target, headers, body: m.data, msgId };
      }),
    );
    for (const m of messages) m.ack();
  }
}
