/**
 * Real services for tests. Each is found through an environment variable with a local default;
 * a missing one skips its tests with a loud message, or fails the run when services are required
 * (`CI=true` or `EVENTLOOM_REQUIRE_SERVICES=1`).
 */
import { connect } from 'node:net';

export interface ServiceSpec {
  /** Shown in messages, e.g. `PostgreSQL`. */
  readonly name: string;
  /** The environment variable holding the URL. */
  readonly env: string;
  readonly defaultUrl: string;
}

export const POSTGRES: ServiceSpec = {
  name: 'PostgreSQL',
  env: 'EVENTLOOM_POSTGRES_URL',
  defaultUrl: 'postgres://postgres@127.0.0.1:5432/test',
};
export const NATS: ServiceSpec = { name: 'NATS JetStream', env: 'EVENTLOOM_NATS_URL', defaultUrl: 'nats://127.0.0.1:4222' };
export const RABBITMQ: ServiceSpec = {
  name: 'RabbitMQ',
  env: 'EVENTLOOM_RABBITMQ_URL',
  defaultUrl: 'amqp://guest:guest@127.0.0.1:5672',
};

export function serviceUrl(spec: ServiceSpec): string {
  return process.env[spec.env] || spec.defaultUrl;
}

export function servicesRequired(): boolean {
  return process.env.CI === 'true' || process.env.EVENTLOOM_REQUIRE_SERVICES === '1';
}

const reachability = new Map<string, Promise<boolean>>();

/** Whether the service's host:port accepts a TCP connection within 2 s. */
export function isReachable(spec: ServiceSpec): Promise<boolean> {
  const url = new URL(serviceUrl(spec));
  const key = `${url.hostname}:${url.port}`;
  let result = reachability.get(key);
  if (!result) {
    result = new Promise<boolean>((resolve) => {
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) });
      const finish = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(2_000, () => finish(false));
      socket.once('connect', () => finish(true));
      socket.once('error', () => finish(false));
    });
    reachability.set(key, result);
  }
  return result;
}

/**
 * Resolves to the service URL when it is reachable, or `undefined` (after printing a loud
 * warning) when it is not and services are optional. Throws when services are required.
 * Use at the top of a test file: `const url = await serviceOrSkip(POSTGRES); describe.skipIf(!url)(…)`.
 */
export async function serviceOrSkip(spec: ServiceSpec): Promise<string | undefined> {
  const url = serviceUrl(spec);
  if (await isReachable(spec)) return url;
  const message = `${spec.name} is not reachable at ${redact(url)} (set ${spec.env})`;
  if (servicesRequired()) throw new Error(`${message}; services are required here (CI=true or EVENTLOOM_REQUIRE_SERVICES=1)`);
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING ${spec.name} tests: ${message}\n${'!'.repeat(78)}\n`);
  return undefined;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
