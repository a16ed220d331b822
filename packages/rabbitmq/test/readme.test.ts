/**
 * The README's example, run on the real broker, and the README's code block kept equal to it
 * (as docs/docs.test.ts does for the guides).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RABBITMQ, serviceOrSkip } from '@eventloom/testing';
import { createRabbitMqTransport } from '../src/index.js';
import { deleteAll } from './fixtures.js';

const url = await serviceOrSkip(RABBITMQ);
const here = fileURLToPath(import.meta.url);

function region(name: string): string {
  const lines = readFileSync(here, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return body.map((l) => l.slice(indent)).join('\n').trim();
}

describe('README', () => {
  it('its code block is the region below', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /<!-- snippet: packages\/rabbitmq\/test\/readme\.test\.ts#usage -->\n```ts\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README has the usage block').not.toBeNull();
    expect(block![1]!.trim()).toBe(region('usage'));
  });

  it.skipIf(!url)('the example runs: a command queue and a topic with two groups', async () => {
    const suffix = Math.random().toString(36).slice(2);
    const seen: string[] = [];
    // #region usage
    // import { createRabbitMqTransport } from '@eventloom/rabbitmq';
    type UserRegistered = { type: 'UserRegistered'; data: { userId: string; email: string } };
    type SendWelcomeEmail = { type: 'SendWelcomeEmail'; data: { email: string } };

    // URL from EVENTLOOM_RABBITMQ_URL by default; reconnects by itself.
    const transport = createRabbitMqTransport({ url, source: 'accounts', deadLetterQueue: `accounts-dead-letters-${suffix}` });

    // A topic group exists from its declaration on: declare before publishing.
    await transport.declare([{ topic: `users-${suffix}`, group: 'mailer' }, { topic: `users-${suffix}`, group: 'crm' }]);

    const mailer = transport.consume<UserRegistered>({ topic: `users-${suffix}`, group: 'mailer' }, {
      // Sent from a handler: correlation and causation are carried on.
      UserRegistered: (m, context) => context.send(`emails-${suffix}`, { type: 'SendWelcomeEmail', data: { email: m.data.email } }).then(() => undefined),
    });
    const crm = transport.consume<UserRegistered>({ topic: `users-${suffix}`, group: 'crm' }, {
      UserRegistered: (m) => void seen.push(`crm ${m.data.userId}`),
    });
    const emails = transport.consume<SendWelcomeEmail>({ queue: `emails-${suffix}` }, {
      SendWelcomeEmail: (m) => void seen.push(`email to ${m.data.email}`),
    }, { concurrency: 4, failurePolicy: { maxAttempts: 5, retryDelayMs: 200 } });

    // Resolves once every group's queue confirmed it (quorum queues: a majority wrote it to disk).
    await transport.publish<UserRegistered>(`users-${suffix}`, { type: 'UserRegistered', data: { userId: 'u-1', email: 'ada@example.com' }, partitionKey: 'u-1' });
    // #endregion usage

    const deadline = Date.now() + 15_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([mailer.stop(), crm.stop(), emails.stop()]);
    await transport.close();
    expect(seen.sort()).toEqual(['crm u-1', 'email to ada@example.com']);
    const queues = [`accounts-dead-letters-${suffix}`, ...[`users-${suffix}:mailer`, `users-${suffix}:crm`, `emails-${suffix}`].flatMap((q) => [q, ...[0, 1, 2, 3].map((i) => `${q}:p${i}`)])];
    await deleteAll(url!, queues, [`users-${suffix}`]);
  });
});
