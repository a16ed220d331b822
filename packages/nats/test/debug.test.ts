import { createTransport } from '@eventloom/core/adapter';
import { it } from 'vitest';
import { NatsTransportDriver } from '../src/index.js';
import { deleteStreams, natsUrl, uniquePrefix } from './support.js';

it('debug keyed', async () => {
  const prefix = uniquePrefix();
  const driver = await NatsTransportDriver.connect({ servers: natsUrl!, prefix, partitions: 4 });
  const t = createTransport(driver, {});
  const done: string[] = [];
  const t0 = Date.now();
  const c = t.consume<{ type: 'Ping'; data: { n: number; key: string } }>({ queue: 'q1' }, {
    Ping: async (m) => { done.push(`${m.data.key}#${m.data.n}@${Date.now() - t0}`); await new Promise((r) => setTimeout(r, 5)); },
  }, { logger: false, concurrency: 8 });
  await c.ready;
  const msgs = [];
  for (let n = 0; n < 15; n++) for (const key of ['k0', 'k1', 'k2', 'k3']) msgs.push({ type: 'Ping' as const, data: { n, key }, partitionKey: key });
  await t.send('q1', msgs);
  while (done.length < 60) await new Promise((r) => setTimeout(r, 10));
  console.log(Date.now() - t0, done.join(' '));
  await t.close();
  await deleteStreams(natsUrl!, prefix);
});
