export { runTransportConformance } from './conformance.js';
export type { TransportConformanceOptions, TransportFactory, TransportTestContext } from './context.js';
