export { runOutboxInboxConformance } from './conformance.js';
export type { OutboxInboxFactory, OutboxInboxFixture } from './context.js';
