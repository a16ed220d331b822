/**
 * Keeps the guides honest: every TypeScript block in docs/*.md must be preceded by
 * `<!-- snippet: path#region -->` and equal that region of a file that is compiled and run by
 * the tests. A block without a source, or one that drifted from it, fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const docsDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(docsDir, '..');

function region(file: string, name: string): string {
  const text = readFileSync(resolve(root, file), 'utf8').split('\n');
  const start = text.findIndex((line) => line.trim() === `// #region ${name}`);
  const end = text.findIndex((line, i) => i > start && line.trim() === `// #endregion ${name}`);
  if (start === -1 || end === -1) throw new Error(`${file} has no region '${name}'`);
  const lines = text.slice(start + 1, end);
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n').trim();
}

const guides = readdirSync(docsDir).filter((f) => f.endsWith('.md'));

describe('docs', () => {
  it('has guides', () => {
    expect(guides.length).toBeGreaterThan(0);
  });

  for (const guide of guides) {
    it(`${guide}: every code block is a region of compiled, tested code`, () => {
      const text = readFileSync(join(docsDir, guide), 'utf8');
      const blocks = [...text.matchAll(/(?:<!-- snippet: ([^#\s]+)#([\w-]+) -->\n)?```ts\n([\s\S]*?)```/g)];
      for (const [, file, name, body] of blocks) {
        expect(file, `${guide}: a ts block has no <!-- snippet: path#region --> above it:\n${body}`).toBeDefined();
        expect(body!.trim(), `${guide}: block from ${file}#${name} drifted from the source`).toBe(region(file!, name!));
      }
    });
  }
});
