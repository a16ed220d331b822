/** @eventloom/rabbitmq — the transport (in progress). */
export {};
