/** The code of docs/errors.md, run as tests; and the page lists exactly the codes core has. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collect, isEventloomError, MemoryEventStore, type EventToAppend } from '@eventloom/core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every `readonly code = '...'` in core's sources: the codes a caller can meet. */
function codesInCore(): Set<string> {
  const codes = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/readonly code = '([A-Z_]+)' as const/g)) codes.add(match[1]!);
      }
    }
  };
  walk(join(root, 'packages', 'core', 'src'));
  return codes;
}

describe('docs/errors.md', () => {
  it('lists every code a class in core carries, and no other', () => {
    const page = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    const listed = new Set([...page.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]!));
    expect([...listed].sort()).toEqual([...codesInCore()].sort());
  });

  it('branches on the code of a typed error', async () => {
    const store = new MemoryEventStore();
    const events: EventToAppend[] = [{ type: 'OrderPlaced', data: { total: 5 } }];
    await store.appendToStream('order-1', events);
    let reloaded = false;
    const attempt = async (): Promise<void> => {
      // #region catch-codes
      try {
        await store.appendToStream('order-1', events, { expectedVersion: 3n });
      } catch (error) {
        if (isEventloomError(error) && error.code === 'WRONG_EXPECTED_VERSION') {
          // reload and decide again
          reloaded = true;
          return;
        }
        throw error;
      }
      // #endregion catch-codes
    };
    await attempt();
    expect(reloaded).toBe(true);
    expect(await collect(store.readStream('order-1'))).toHaveLength(1);
  });
});
