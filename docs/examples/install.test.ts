/**
 * The README's install, as it left node_modules: native addons compiled here from source (no
 * prebuilt binary was downloaded: the real prebuild-install is not installed at all, the
 * tools/no-prebuild stand-in is), and npm itself runs in the repository without warnings.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(fileURLToPath(import.meta.url), '../../..');
const modules = join(root, 'node_modules');

/** The environment of a shell, not of the npm script that may have started the tests. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
}

/** Every installed copy of `name`, hoisted or nested one level below another package. */
function installedCopies(name: string): string[] {
  const copies = [join(modules, name)];
  for (const entry of readdirSync(modules)) {
    const owners = entry.startsWith('@') ? readdirSync(join(modules, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const owner of owners) copies.push(join(modules, owner, 'node_modules', name));
  }
  return copies.filter((dir) => existsSync(join(dir, 'package.json')));
}

describe('install', () => {
  it('npm runs in the repository without warnings about its configuration', async () => {
    const { stderr } = await run('npm', ['config', 'get', 'fund'], { cwd: root, env: userEnv(), timeout: 60_000 });
    expect(stderr).toBe('');
  }, 60_000);

  it('the only prebuild-install is the stand-in, and it fails so installs fall through to node-gyp', async () => {
    const copies = installedCopies('prebuild-install');
    expect(copies.length).toBeGreaterThan(0);
    for (const dir of copies) {
      const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string };
      expect(name, `${dir} is the real prebuild-install, which downloads binaries`).toBe('no-prebuild');
    }
    const bin = join(modules, '.bin', 'prebuild-install');
    await expect(run(bin, [], { cwd: root, timeout: 30_000 })).rejects.toMatchObject({ code: 1 });
  }, 60_000);

  for (const addon of ['better-sqlite3', 'sqlite3']) {
    it(`${addon} was compiled here (object files beside its .node file)`, () => {
      const release = join(modules, addon, 'build', 'Release');
      expect(readdirSync(release).some((f) => f.endsWith('.node'))).toBe(true);
      // A downloaded prebuild unpacks only the .node file; a node-gyp build leaves its objects.
      expect(existsSync(join(release, 'obj.target'))).toBe(true);
    });
  }
});
