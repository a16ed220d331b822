/**
 * The guide and the README show code from test files; this fails when a snippet no longer matches
 * its region (`// #region name` … `// #endregion name`) or points at one that does not exist.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PAGES = ['docs/sqlite-event-store.md', 'packages/sqlite/README.md'];
const SNIPPET = /<!-- snippet: ([^#\s]+)#([\w-]+) -->\n```ts\n([\s\S]*?)```/g;

function region(path: string, name: string): string | undefined {
  const source = readFileSync(ROOT + path, 'utf8');
  const match = new RegExp(`// #region ${name}\\n([\\s\\S]*?)\\n\\s*// #endregion ${name}\\n`).exec(source);
  return match ? dedent(match[1]!) : undefined;
}

function dedent(code: string): string {
  const lines = code.replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

describe('code in the docs is code from the tests', () => {
  for (const page of PAGES) {
    const snippets = [...readFileSync(ROOT + page, 'utf8').matchAll(SNIPPET)];
    it(`${page} has snippets`, () => {
      expect(snippets.length).toBeGreaterThan(0);
    });
    for (const [, path, name, code] of snippets) {
      it(`${page}: ${path}#${name} is verbatim`, () => {
        expect(region(path!, name!), `region ${name} in ${path}`).toBe(dedent(code!));
      });
    }
  }
});
