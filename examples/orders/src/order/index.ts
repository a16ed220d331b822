export * from './events.js';
export * from './commands.js';
export * from './order.js';
export * from './order-decider.js';
export * from './schemas.js';
