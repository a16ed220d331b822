/**
 * The conformance suite on the memory driver with one fault put in, named by
 * `EVENTLOOM_MUTANT` (see mutants.ts); skipped without it. It is meant to FAIL:
 * `EVENTLOOM_MUTANT=reverse-batch npx vitest run packages/testing/test/transport/mutant-suite.test.ts`
 * shows which cases catch the fault; mutants.test.ts runs every fault and checks.
 */
import { MemoryTransportStorage, type Transport } from '@eventloom/core';
import { createTransport, MemoryTransportDriver } from '@eventloom/core/adapter';
import { describe, it } from 'vitest';
import { runTransportConformance } from '../../src/transport/index.js';
import { isMutant, mutate } from './mutants.js';

const fault = process.env.EVENTLOOM_MUTANT;

if (isMutant(fault)) {
  runTransportConformance(`memory with fault ${fault}`, {
    async create() {
      const storage = new MemoryTransportStorage();
      const drivers = new Map<Transport, MemoryTransportDriver>();
      const open = (): Transport => {
        const driver = new MemoryTransportDriver(storage);
        const transport = createTransport(mutate(driver, fault));
        drivers.set(transport, driver);
        return transport;
      };
      return {
        transport: open(),
        peer: async () => open(),
        crash: async (victim) => {
          drivers.get(victim)!.crash();
          await victim.close().catch(() => undefined);
        },
        isolatedDeadLetters: true,
      };
    },
  });
} else {
  describe('transport suite with a fault put in', () => {
    it.skip('set EVENTLOOM_MUTANT to one of the faults in mutants.ts', () => undefined);
  });
}
