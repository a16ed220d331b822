/** The in-memory stores run the shared projection conformance suites, as every adapter does. */
import { MemoryEventStore, MemoryReadModelStore } from '@eventloom/core';
import { runProjectionConformance, runReadModelStoreConformance } from '@eventloom/testing';

// #region read-model-store-conformance
runReadModelStoreConformance({
  name: 'memory',
  create: async () => ({ readModels: new MemoryReadModelStore() }),
});
// #endregion read-model-store-conformance

// #region projection-conformance
runProjectionConformance({
  name: 'memory',
  create: async (options) => ({
    eventStore: new MemoryEventStore(options?.clock ? { clock: options.clock } : {}),
    readModels: new MemoryReadModelStore(),
  }),
});
// #endregion projection-conformance
