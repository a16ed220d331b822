// The shared transport conformance suite on the memory transport, the reference every other transport is held to.
import { MemoryTransport, MemoryTransportStorage } from '@eventloom/core';
import { runTransportConformance } from '@eventloom/testing';

// #region transport-conformance
runTransportConformance('memory', {
  async create() {
    const storage = new MemoryTransportStorage();
    const transport = new MemoryTransport({ storage, source: 'conformance' });
    return {
      transport,
      // Another transport on the same storage acts like a second process on one queue database.
      peer: async () => new MemoryTransport({ storage, source: 'conformance' }),
      crash: (t) => (t as MemoryTransport).crash(),
      injectRaw: async (source, headers, body) => transport.injectRaw(source, headers, body),
      isolatedDeadLetters: true,
    };
  },
});
// #endregion transport-conformance
