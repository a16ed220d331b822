/** The reference store runs the event store conformance suite unchanged, like every adapter. */
import { MemoryEventStore } from '@eventloom/core';
import { runEventStoreConformance } from '@eventloom/testing';

runEventStoreConformance({
  name: 'memory',
  create: async (options) => ({ store: new MemoryEventStore(options) }),
});
