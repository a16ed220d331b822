/** The reference store runs the event store conformance suite unchanged, like every adapter. */
import { MemoryEventStore } from '@eventloom/core';
import { runEventStoreConformance } from '@eventloom/testing';

// #region event-store-conformance
runEventStoreConformance({
  name: 'memory',
  create: async (options) => ({ store: new MemoryEventStore(options) }),
});
// #endregion event-store-conformance
