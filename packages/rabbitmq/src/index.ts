/** @eventloom/rabbitmq — the transport contract on RabbitMQ: quorum queues, exchanges, publisher confirms. */
export { RabbitMqDriver } from './driver.js';
export { createRabbitMqTransport } from './transport.js';
export { DEFAULT_RABBITMQ_URL, type RabbitMqTransportOptions } from './options.js';
