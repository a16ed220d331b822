/** @eventloom/testing: conformance suites for adapters and given/when/then helpers for users. */
// The services this repository's adapters need; a spec is added with the adapter that uses it.
export { NATS, POSTGRES, RABBITMQ, serviceOrSkip, serviceUrl, servicesRequired, type ServiceSpec } from './services.js';
export * from './event-store/index.js';
export * from './transport/index.js';
export { runCommandHandlingConformance } from './command-handling.js';
export { deciderSpec, type DeciderThen, type DeciderWhen } from './decider-spec.js';
export * from './projections/index.js';
export * from './outbox-inbox/index.js';
export * from './sagas/index.js';
