/**
 * amqplib writes each frame to the socket on its own — one write system call per publish and
 * per ack, most of a busy connection's CPU besides encoding. Its multiplexer hands the socket
 * everything the channels have queued in one pass; corking the socket around that pass makes the
 * pass one `writev`. Same bytes, same order; only fewer calls into the kernel.
 *
 * This reaches into amqplib's connection (its `muxer` and `stream`, stable across 0.10–2.x). If
 * a version lacks them, nothing changes and frames go out one by one as before;
 * `coalesce-writes.test.ts` fails then, so an upgrade that loses it is noticed.
 */
import type { ChannelModel } from 'amqplib';

interface Corkable {
  cork(): void;
  uncork(): void;
}

interface Muxer {
  _readIncoming(): void;
}

/** Whether `model`'s socket writes are coalesced (installed by `coalesceWrites`). */
export const COALESCED = Symbol('eventloom.coalescedWrites');

/** Makes each of amqplib's write passes one `writev`. Returns false (and changes nothing) when amqplib's insides are not as expected. */
export function coalesceWrites(model: ChannelModel): boolean {
  const connection = model.connection as unknown as { muxer?: Partial<Muxer> & { [COALESCED]?: true }; stream?: Partial<Corkable> };
  const muxer = connection.muxer;
  const stream = connection.stream;
  if (muxer === undefined || typeof muxer._readIncoming !== 'function' || stream === undefined || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') {
    return false;
  }
  if (muxer[COALESCED]) return true;
  const pass = muxer._readIncoming.bind(muxer);
  const socket = stream as Corkable;
  muxer._readIncoming = () => {
    socket.cork();
    try {
      pass();
    } finally {
      socket.uncork();
    }
  };
  muxer[COALESCED] = true;
  return true;
}
