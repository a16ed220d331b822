export { runOutboxInboxConformance } from './conformance.js';
export type { OutboxInboxFactory, OutboxInboxFixture } from './context.js';
export {
  EXACTLY_ONCE_TOPIC,
  GUARDED_GROUP,
  PLAIN_GROUP,
  RELAY_NAME,
  effectCounts,
  exactlyOnceSize,
  seedExactlyOnce,
  runExactlyOnce,
  runExactlyOnceChild,
  type EffectCounts,
  type ExactlyOnceChildParts,
  type ExactlyOnceOptions,
  type ExactlyOnceResult,
} from './exactly-once.js';
export { expectExactlyOnce } from './exactly-once-expect.js';
