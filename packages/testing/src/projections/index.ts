/** Projection suites for read-model stores and runners, and given/then helpers for users' projections. */
export { runReadModelStoreConformance, type CreatedReadModelStore, type ReadModelStoreConformanceOptions } from './read-model-store-conformance.js';
export { runProjectionConformance, type CreatedProjectionStores, type ProjectionConformanceOptions } from './runner-conformance.js';
export { givenEvents, type GivenEvent, type ProjectionScenario, type ProjectionScenarioOptions } from './given.js';
export * as projectionFixtures from './fixtures.js';
export * as portableProjection from './portable-projection.js';
export {
  runProjectionProcessConformance,
  type CreatedProcessStores,
  type ProjectionProcessConformanceOptions,
  type ProjectionProcessStores,
} from './processes.js';
