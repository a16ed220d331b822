export { runEventStoreConformance } from './conformance.js';
export type { CreatedStore, EventStoreConformanceOptions, StoreFactoryOptions } from './context.js';
