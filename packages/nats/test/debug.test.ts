import { createTransport } from '@eventloom/core/adapter';
import { it } from 'vitest';
import { NatsTransportDriver } from '../src/index.js';
import { deleteStreams, natsUrl, uniquePrefix } from './support.js';

it('debug close', async () => {
  const prefix = uniquePrefix();
  const driver = await NatsTransportDriver.connect({ servers: natsUrl!, prefix, partitions: 4 });
  const t = createTransport(driver, {});
  const c = t.consume<{ type: 'Ping'; data: { n: number } }>({ queue: 'q1' }, { Ping: () => undefined }, { logger: false });
  await c.ready;
  await t.send('q1', { type: 'Ping', data: { n: 1 } });
  await new Promise((r) => setTimeout(r, 500));
  let t0 = Date.now();
  await c.stop({ drainMs: 0 }).catch((e) => console.log('stop error', e));
  console.log('stop', Date.now() - t0);
  t0 = Date.now();
  await t.close();
  console.log('close', Date.now() - t0);
  await deleteStreams(natsUrl!, prefix);
});
