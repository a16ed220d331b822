/**
 * Ids of the events a command records, derived from the command's id (UUIDv5, RFC 9562): a retry
 * of the same command computes the same ids, so the store recognises what was already recorded.
 */
import { createHash } from 'node:crypto';

/** The namespace of Eventloom's command-derived event ids (a fixed, random UUID). */
const NAMESPACE = Buffer.from('6f1c1e52a7a94c0f9d3e8b5a2c4d7e10', 'hex');

/** The id of the `index`-th event (from 0) that command `commandId` records on `streamId`. */
export function commandEventId(streamId: string, commandId: string, index: number): string {
  const hash = createHash('sha1').update(NAMESPACE).update(JSON.stringify([streamId, commandId, index]), 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
