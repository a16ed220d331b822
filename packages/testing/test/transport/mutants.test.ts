/**
 * The transport conformance suite can fail: for each fault in mutants.ts, the suite runs on the
 * memory driver with that fault (a child vitest) and the parts named there must report failures.
 * Slow (a suite run per fault): behind EVENTLOOM_SOAK=1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MUTANTS, type Mutant } from './mutants.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

interface JsonReport {
  readonly testResults: readonly { readonly assertionResults: readonly { readonly ancestorTitles: readonly string[]; readonly status: string }[] }[];
}

/** The suite's parts that had a failing case, with this fault put in. */
function failingParts(fault: Mutant): Set<string> {
  const dir = mkdtempSync(join(tmpdir(), 'eventloom-mutant-'));
  try {
    const outputFile = join(dir, 'report.json');
    spawnSync('npx', ['vitest', 'run', 'packages/testing/test/transport/mutant-suite.test.ts', '--reporter=json', `--outputFile=${outputFile}`], {
      cwd: root,
      env: { ...process.env, EVENTLOOM_MUTANT: fault, EVENTLOOM_SOAK: '' },
      stdio: 'ignore',
      timeout: 300_000,
    });
    const report = JSON.parse(readFileSync(outputFile, 'utf8')) as JsonReport;
    const parts = new Set<string>();
    for (const file of report.testResults) {
      for (const test of file.assertionResults) if (test.status === 'failed') parts.add(test.ancestorTitles.at(-1) ?? '');
    }
    return parts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(process.env.EVENTLOOM_SOAK !== '1')('the transport suite catches faults', () => {
  for (const [fault, parts] of Object.entries(MUTANTS) as [Mutant, readonly string[]][]) {
    it(`${fault}: caught by ${parts.join(', ')}`, () => {
      const failing = failingParts(fault);
      for (const part of parts) expect([...failing], `${fault} must fail '${part}'`).toContain(part);
    }, 320_000);
  }
});
