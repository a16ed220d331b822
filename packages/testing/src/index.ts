/** @eventloom/testing: conformance suites for adapters and given/when/then helpers for users. */
export * from './services.js';
export * from './event-store/index.js';
