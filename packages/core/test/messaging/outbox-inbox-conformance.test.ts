/** The outbox/inbox conformance suite on the reference parts: the memory store, inbox, outboxes and transport. */
import { createMemoryInbox, createMemoryOutbox, inMemoryTransaction, MemoryEventStore, MemoryTransport, type MemoryTransaction } from '@eventloom/core';
import { runOutboxInboxConformance } from '@eventloom/testing';

runOutboxInboxConformance<MemoryTransaction>('memory', {
  create: async () => {
    const store = new MemoryEventStore();
    const transport = new MemoryTransport();
    const inbox = createMemoryInbox();
    const outboxes = new Map<string, ReturnType<typeof createMemoryOutbox>>();
    const effects = new Map<string, number>();
    return {
      store,
      transport,
      inbox,
      // Two relays of one name share the outbox, as two processes share its table.
      outbox: (name) => {
        let outbox = outboxes.get(name);
        if (!outbox) outboxes.set(name, (outbox = createMemoryOutbox({ name })));
        return outbox;
      },
      transaction: (fn) => inMemoryTransaction(fn),
      write: (tx, key) => tx.onCommit(() => effects.set(key, (effects.get(key) ?? 0) + 1)),
      count: async (key) => effects.get(key) ?? 0,
      cleanup: async () => {
        await transport.close();
        await inbox.close();
        await store.close();
      },
    };
  },
});
