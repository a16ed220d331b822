/** The README's code is a region of docs/examples/nats/quick-start.ts, and that code runs. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { quickStart } from '../../../docs/examples/nats/quick-start.js';
import { deleteStreams, eventually, natsUrl, uniquePrefix } from './support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function region(file: string, name: string): string {
  const lines = readFileSync(`${root}${file}`, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return body.map((l) => l.slice(indent)).join('\n').trim();
}

describe('packages/nats/README.md', () => {
  it('every ts block is a region of a tested example', () => {
    const text = readFileSync(`${root}packages/nats/README.md`, 'utf8');
    const blocks = [...text.matchAll(/(?:<!-- snippet: ([^#\s]+)#([\w-]+) -->\n)?```ts\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThan(0);
    for (const [, file, name, body] of blocks) {
      expect(file, `a ts block has no snippet marker:\n${body}`).toBeDefined();
      expect(body!.trim()).toBe(region(file!, name!));
    }
  });

  it.skipIf(!natsUrl)('the quick start sends and handles a command', async () => {
    const prefix = uniquePrefix();
    const charged: [string, number][] = [];
    const { transport, consumer } = await quickStart(natsUrl!, prefix, (orderId, cents) => void charged.push([orderId, cents]));
    try {
      await eventually(() => charged.length === 1, 10_000, 'the charge');
      expect(charged).toEqual([['o-1', 1299]]);
    } finally {
      await consumer.stop();
      await transport.close();
      await deleteStreams(natsUrl!, prefix);
    }
  });
});
