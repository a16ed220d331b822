/**
 * The outbox/inbox conformance suite: memory, SQLite and PostgreSQL run it unchanged, each with
 * one call and a fixture of its kind. Names are unique per test, so files run in parallel.
 *
 * @example
 * runOutboxInboxConformance('sqlite', { create: async () => ({ store, transport, inbox, outbox: (name) => …, transaction, write, count, cleanup }) });
 */
import { afterEach, describe } from 'vitest';
import type { OutboxInboxFactory, OutboxInboxFixture, SuiteContext } from './context.js';
import { eventRelayTests } from './event-relay.js';
import { inboxTests } from './inbox.js';
import { outboxTests } from './outbox.js';

export function runOutboxInboxConformance<Tx>(name: string, factory: OutboxInboxFactory<Tx>): void {
  describe(`outbox and inbox conformance: ${name}`, { timeout: 30_000 }, () => {
    const made: OutboxInboxFixture<Tx>[] = [];
    afterEach(async () => {
      for (const fixture of made.splice(0)) await fixture.cleanup();
    });
    const ctx: SuiteContext<Tx> = {
      name,
      create: async () => {
        const fixture = await factory.create();
        made.push(fixture);
        return fixture;
      },
    };
    describe('inbox', () => inboxTests(ctx));
    describe('state-based outbox', () => outboxTests(ctx));
    describe('event-store relay', () => eventRelayTests(ctx));
  });
}
