/**
 * A consumer's "ghost" pending message after a kill -9 of nats-server 2.9: the file store keeps
 * the stream's removal of a message (its ack on a work-queue stream, or the last group's on an
 * interest stream) but restores the consumer's older state, in which that message is still
 * handed out and unacknowledged. The server then counts it as pending forever — each AckWait it
 * tries to redeliver, finds nothing, and starts again — so a partition consumer
 * (`max_ack_pending = 1`) never delivers anything after it. Measured in the restart test: a
 * partition stuck at `num_ack_pending 1, num_redelivered 1, num_pending 244` while its subject
 * held the 134 messages it would never deliver.
 *
 * The repair is an ack of that sequence, sent on the consumer's own ack subject: the server
 * drops the pending entry and delivers the next message. It is only sent when the stream no
 * longer has the message, so it never acknowledges a message that someone is still handling.
 */
import type { ConsumerInfo, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

const ACK = new TextEncoder().encode('+ACK');

/**
 * With `max_ack_pending = 1` the one pending message is the last delivered one; true when that
 * message is gone from the stream and its pending entry was acked away.
 */
export async function releaseGhostPending(nc: NatsConnection, jsm: JetStreamManager, info: ConsumerInfo): Promise<boolean> {
  if (info.num_ack_pending === 0 || info.num_pending === 0) return false;
  const seq = info.delivered.stream_seq;
  const stored = await jsm.streams.getMessage(info.stream_name, { seq });
  if (stored !== null && stored.subject === info.config.filter_subject) return false;
  // The reply subject the server gave the delivery: $JS.ACK.<stream>.<consumer>.<delivery count>.<stream seq>.<consumer seq>.<time>.<pending>.
  // The server finds the pending entry by stream sequence; the other fields are not checked.
  const subject = `$JS.ACK.${info.stream_name}.${info.name}.1.${seq}.${info.delivered.consumer_seq}.${Date.now()}000000.${info.num_pending}`;
  await nc.request(subject, ACK, { timeout: 5_000 });
  return true;
}
