/**
 * The README's "Use it from your own code", run as a user would: its files are written to a
 * folder outside the workspaces, type-checked by plain `tsc` and run by plain `node`, so they
 * resolve `@eventloom/*` through the packages' `exports` (their built `dist/`), not through the
 * `eventloom-source` condition the repository's own tests use.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(fileURLToPath(import.meta.url), '../../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const dirs: string[] = [];

/** The environment of a shell, not of the npm script or test runner that started us. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && !key.startsWith('VITEST')) env[key] = value;
  }
  return env;
}

/** The `<!-- file: name -->` blocks of the README's section. */
function readmeFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## Use it from your own code');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const files = new Map<string, string>();
  for (const [, name, body] of section.matchAll(/<!-- file: ([\w.-]+) -->\n```\w+\n([\s\S]*?)```/g)) files.set(name!, body!);
  return files;
}

function freshDir(kind: string): string {
  const dir = join(root, `.tmp-consumer-${tag}-${kind}`);
  mkdirSync(dir);
  dirs.push(dir);
  return dir;
}

function writeFiles(dir: string, files: Map<string, string>, names: readonly string[]): void {
  for (const name of names) {
    const body = files.get(name);
    if (body === undefined) throw new Error(`README's "Use it from your own code" has no <!-- file: ${name} --> block`);
    writeFileSync(join(dir, name), body);
  }
}

/** Runs `tsc` (`-p dir` unless told otherwise) and returns what it printed. */
async function typeCheck(dir: string, args: readonly string[] = ['-p', dir]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [tsc, ...args], { cwd: dir, env: userEnv(), timeout: 300_000 });
    return { ok: true, output: stdout };
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${stdout}${stderr}` };
  }
}

async function runScript(dir: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['main.js', join(dir, 'accounts.sqlite')], { cwd: dir, env: userEnv(), timeout: 60_000 });
  return stdout.trim();
}

/** A misuse only real declarations catch: with missing or `any` types it would compile. */
const misuse = `import { openSqliteEventStore } from '@eventloom/sqlite';
openSqliteEventStore({ filename: 42 });
`;

const files = readmeFiles();

beforeAll(async () => {
  for (const pkg of ['core', 'sqlite']) {
    for (const file of ['index.js', 'index.d.ts']) {
      const built = join(root, 'packages', pkg, 'dist', file);
      expect(existsSync(built), `${built} is missing: npm install's prepare script builds it (or run npm run build)`).toBe(true);
    }
  }
  // Sources may have moved on since the install: bring the two packages used here up to date,
  // as `npm run build` would (incremental; nothing to do right after an install).
  const build = await typeCheck(root, ['-b', join(root, 'packages/sqlite/tsconfig.build.json')]);
  expect(build.output, 'building @eventloom/core and @eventloom/sqlite failed').toBe('');
}, 300_000);

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("README: use it from your own code", () => {
  it('has the files it shows', () => {
    expect([...files.keys()].sort()).toEqual(['main.ts', 'package.json', 'tsconfig.json']);
  });

  it('a script in a folder of the repository type-checks with plain tsc and runs with plain node', async () => {
    const dir = freshDir('script');
    writeFiles(dir, files, ['tsconfig.json', 'main.ts']);

    const checked = await typeCheck(dir);
    expect(checked.output).toBe('');
    expect(checked.ok).toBe(true);
    expect(await runScript(dir)).toBe('balance 15 at position 2');

    writeFileSync(join(dir, 'misuse.ts'), misuse);
    const misused = await typeCheck(dir);
    expect(misused.ok).toBe(false);
    expect(misused.output).toMatch(/misuse\.ts\(2,\d+\): error TS2322/);
  }, 180_000);

  it('a package depending on the packages by path installs, type-checks and runs', async () => {
    const dir = freshDir('app');
    writeFiles(dir, files, ['package.json', 'tsconfig.json', 'main.ts']);

    await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, env: userEnv(), timeout: 120_000 });
    const checked = await typeCheck(dir);
    expect(checked.output).toBe('');
    expect(checked.ok).toBe(true);
    expect(await runScript(dir)).toBe('balance 15 at position 2');
  }, 180_000);
});
