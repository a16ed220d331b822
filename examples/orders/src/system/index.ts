export { catalogue, plannedOrders, type PlannedOrder, type Product } from './catalogue.js';
export { census, type Census, type Invariant } from './invariants.js';
export { orderSaga } from './orchestrated.js';
export { formatSummary, runSystem, type RunOptions, type RunResult, type Variant } from './run.js';
export * from './services/index.js';
export { CHOREOGRAPHY_PARTS, orderProcess, reactions, startChoreography, type Choreography, type ChoreographyPart, type FlowEvent, type InventoryEvent, type OrderProcess } from './choreographed.js';
export { REPLY_QUEUE, serveShipping, SHIPPING_QUEUE, ShippingDesk } from './shipping-desk.js';
