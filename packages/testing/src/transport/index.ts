export { runTransportConformance } from './conformance.js';
export type { TransportConformanceOptions, TransportFactory, TransportTestContext } from './context.js';
export { forwardReceiver, wrapReceivers } from './wrap-receivers.js';
