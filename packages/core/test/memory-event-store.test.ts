import { MemoryEventStore } from '@eventloom/core';
import { runEventStoreConformance } from '@eventloom/testing';

runEventStoreConformance({
  name: 'memory',
  create: async (options) => ({ store: new MemoryEventStore(options) }),
});
