/**
 * The package README shows code from `examples.test.ts`; this fails when a snippet no longer
 * matches its region (`// #region name` … `// #endregion name`). The guide in docs/ is checked by
 * docs/docs.test.ts the same way.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SNIPPET = /<!-- snippet: ([^#\s]+)#([\w-]+) -->\n```ts\n([\s\S]*?)```/g;

function region(path: string, name: string): string | undefined {
  const lines = readFileSync(ROOT + path, 'utf8').split('\n');
  const start = lines.findIndex((line) => line.trim() === `// #region ${name}`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === `// #endregion ${name}`);
  if (start === -1 || end === -1) return undefined;
  return dedent(lines.slice(start + 1, end).join('\n'));
}

function dedent(code: string): string {
  const lines = code.replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n').trim();
}

describe('code in the README is code from the tests', () => {
  const snippets = [...readFileSync(`${ROOT}packages/postgres/README.md`, 'utf8').matchAll(SNIPPET)];
  it('has snippets', () => {
    expect(snippets.length).toBeGreaterThan(0);
  });
  for (const [, path, name, code] of snippets) {
    it(`${path}#${name} is verbatim`, () => {
      expect(region(path!, name!), `region ${name} in ${path}`).toBe(dedent(code!));
    });
  }
});
