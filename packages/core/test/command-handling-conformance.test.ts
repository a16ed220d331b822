/** The command handling conformance suite on the reference store. */
import { MemoryEventStore } from '@eventloom/core';
import { runCommandHandlingConformance } from '@eventloom/testing';

runCommandHandlingConformance({
  name: 'memory',
  create: async (options) => ({ store: new MemoryEventStore(options) }),
});
