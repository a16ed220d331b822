/** The inbox as applications use it: the contract, the handler wrapper, the memory inbox and its transaction. */
export { MAX_INBOX_KEY_LENGTH, type Inbox, type InboxMessage, type InboxOutcome, type InboxPruneOptions, type InboxRetention } from './inbox.js';
export { inboxHandlers, type InboxMessageContext, type InboxMessageHandler, type InboxMessageHandlers } from './inbox-handlers.js';
export { createMemoryInbox, MemoryInbox, type MemoryInboxOptions } from './memory-inbox.js';
export { inMemoryTransaction, MemoryTransaction } from './memory-transaction.js';
