/** The command handling conformance suite on the reference store. */
import { MemoryEventStore } from '@eventloom/core';
import { runCommandHandlingConformance } from '@eventloom/testing';

// #region command-handling-conformance
runCommandHandlingConformance({
  name: 'memory',
  create: async (options) => ({ store: new MemoryEventStore(options) }),
});
// #endregion command-handling-conformance
