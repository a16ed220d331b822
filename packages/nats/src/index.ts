/** @eventloom/nats — the transport (in progress). */
export {};
