export { processManagerSpec, type ProcessManagerThen, type SpecMessage } from './process-manager-spec.js';
export { sagaSpec, type SagaThen } from './saga-spec.js';
export { settle, type Settleable, type SettleOptions } from './settle.js';
