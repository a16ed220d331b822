/**
 * The event store conformance suite: every adapter runs it unchanged, with one call.
 *
 * @example
 * runEventStoreConformance({
 *   name: 'sqlite',
 *   create: async (options) => {
 *     const store = openSqliteEventStore({ filename: tempFile(), ...options });
 *     return { store, cleanup: () => store.close() };
 *   },
 * });
 */
import { afterEach, describe, it } from 'vitest';
import type { EventStore } from '@eventloom/core';
import { appendTests } from './append.js';
import { badInputTests } from './bad-input.js';
import { concurrencyTests } from './concurrency.js';
import { consumerGroupTests } from './consumer-group.js';
import { fidelityTests } from './fidelity.js';
import { fieldsTests } from './fields.js';
import { fuzzTests } from './fuzz.js';
import type { CreatedStore, EventStoreConformanceOptions, StoreFactoryOptions, SuiteContext } from './context.js';
import { metadataTests } from './metadata.js';
import { modelTests } from './model.js';
import { readTests } from './read.js';
import { schemaTests } from './schemas.js';
import { subscribeTests } from './subscribe.js';
import { subscriptionFailureTests } from './subscription-failures.js';
import { subscriptionLeaseTests } from './subscription-leases.js';
import { timeTests } from './time.js';

const parts: Record<string, (ctx: SuiteContext) => void> = {
  append: appendTests,
  read: readTests,
  'read fields': fieldsTests,
  subscribe: subscribeTests,
  'subscription failures': subscriptionFailureTests,
  'subscription leases': subscriptionLeaseTests,
  'consumer groups': consumerGroupTests,
  metadata: metadataTests,
  'bad input': badInputTests,
  fidelity: fidelityTests,
  fuzz: fuzzTests,
  time: timeTests,
  schemas: schemaTests,
  concurrency: concurrencyTests,
  model: modelTests,
};

export function runEventStoreConformance(options: EventStoreConformanceOptions): void {
  describe(`EventStore conformance: ${options.name}`, () => {
    const created: CreatedStore[] = [];
    const ctx: SuiteContext = {
      options,
      async store(storeOptions?: StoreFactoryOptions): Promise<EventStore> {
        const made = await options.create(storeOptions);
        created.push(made);
        return made.store;
      },
      async created(storeOptions?: StoreFactoryOptions): Promise<CreatedStore> {
        const made = await options.create(storeOptions);
        created.push(made);
        return made;
      },
      async reopen(made: CreatedStore): Promise<EventStore> {
        if (!made.reopen) return made.store;
        const store = await made.reopen();
        // Closed before the original (cleanups run in order): unshift.
        created.unshift({ store });
        return store;
      },
    };
    afterEach(async () => {
      const toClean = created.splice(0);
      for (const made of toClean) {
        if (made.cleanup) await made.cleanup();
        else await made.store.close();
      }
    });
    for (const [name, part] of Object.entries(parts)) {
      const reason = options.skip?.[name];
      if (reason) {
        describe(name, () => {
          it.skip(`skipped by the adapter: ${reason}`, () => undefined);
        });
        continue;
      }
      part(ctx);
    }
  });
}
