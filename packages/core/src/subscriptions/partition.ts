/** Which partition of a consumer group a stream belongs to: the same function on every store (PostgreSQL's `partition_of`). */
import { createHash } from 'node:crypto';

/** The first 32 bits of the MD5 of the stream id, modulo `count`: stable across versions and servers. */
export function partitionOf(streamId: string, count: number): number {
  const digest = createHash('md5').update(streamId, 'utf8').digest();
  return digest.readUInt32BE(0) % count;
}
