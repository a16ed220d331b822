/** Headers of our own beside the CloudEvents ones (the codec's). */
import type { MsgHdrs } from '@nats-io/transport-node';

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
