/** Headers of our own beside the CloudEvents ones (the codec's). */
import type { JsMsg } from '@nats-io/jetstream';
import { MsgImpl, type MsgHdrs } from '@nats-io/transport-node';

/** On a message redriven to one group of a topic: the other groups acknowledge and skip it. */
export const GROUP_HEADER = 'Eventloom-Group';
/** On a delayed message in the delay stream: where it goes, and when. */
export const TARGET_HEADER = 'Eventloom-Target';
export const DELIVER_AT_HEADER = 'Eventloom-Deliver-At';
export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** The binary-mode CloudEvents header the partition key travels in. */
export const PARTITION_KEY_HEADER = 'ce-partitionkey';

/** NATS headers as a plain record (the first value of a repeated key). One walk: `get` per key would search every key again. */
export function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (!h) return record;
  for (const [key, values] of h) record[key] = values[0] ?? '';
  return record;
}

/** Case-insensitive header look-up: a foreign producer may write `Ce-Id`. */
export function headerValue(record: Readonly<Record<string, string>>, name: string): string | undefined {
  const direct = record[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

const decoder = new TextDecoder();

/**
 * A delivered message's headers as a record, read straight from the header block the client
 * keeps (`NATS/1.0\r\nName: value\r\n…`) with the same result as `headerRecord(m.headers)`:
 * names as sent, values trimmed, the first of a repeated name. The client's own parse checks and
 * re-searches every name per header (~2.5 % of a fan-out profile); a message of another shape
 * goes through it.
 */
export function messageHeaders(message: JsMsg): Record<string, string> {
  const msg = (message as { readonly msg?: unknown }).msg;
  if (!(msg instanceof MsgImpl) || msg._headers !== undefined || !(msg._msg.hdr > 0)) return headerRecord(message.headers);
  const block = decoder.decode(msg._rdata.subarray(0, msg._msg.hdr));
  const record: Record<string, string> = {};
  let start = block.indexOf('\r\n');
  if (start < 0 || !block.startsWith('NATS/1.0')) return headerRecord(message.headers);
  for (start += 2; start < block.length; ) {
    let end = block.indexOf('\r\n', start);
    if (end < 0) end = block.length;
    const colon = block.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = block.slice(start, colon);
      if (!Object.hasOwn(record, key)) record[key] = block.slice(colon + 1, end).trim();
    }
    start = end + 2;
  }
  return record;
}
