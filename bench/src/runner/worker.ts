/**
 * A worker process holds one target. Each target runs in its own process so that nothing one
 * library does to the process (Emmett's Postgres layer replaces `pg`'s global type parsers; a
 * stalled writer keeps promises pending) can touch another, and a stuck target can be killed.
 */
import type { BenchTarget, OpenTarget } from '../target.js';
import { errorText } from '../workloads/helpers.js';
import { workload } from '../workloads/index.js';
import type { FromWorker, ToWorker } from './protocol.js';

let target: BenchTarget | undefined;
let backend: 'sqlite' | 'postgres' = 'sqlite';

function send(message: FromWorker): void {
  process.send!(message);
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.kind) {
    case 'open': {
      backend = message.descriptor.backend;
      const module = (await import(new URL(`../${message.descriptor.module}`, import.meta.url).href)) as {
        open: OpenTarget;
      };
      target = await module.open(message.resource);
      send({ kind: 'opened' });
      return;
    }
    case 'run': {
      if (!target) throw new Error('no target open');
      const output = await workload(message.workload).run(target, {
        backend,
        sizes: message.sizes,
        pass: message.pass,
        eventsBefore: message.eventsBefore,
        progress: (text) => send({ kind: 'progress', text }),
      });
      send({ kind: 'done', output });
      return;
    }
    case 'close': {
      await target?.close();
      target = undefined;
      send({ kind: 'closed' });
      return;
    }
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((error: unknown) => send({ kind: 'error', message: errorText(error) }));
});
process.on('disconnect', () => process.exit(0));
// A library that loses a promise must not take the worker down silently: report and carry on.
process.on('unhandledRejection', (error) => {
  console.error(`unhandled rejection: ${errorText(error)}`);
});
