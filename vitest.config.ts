import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['eventloom-source'] },
  ssr: { resolve: { conditions: ['eventloom-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'docs/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here and in CI: files run in parallel, one per core.
    fileParallelism: true,
  },
});
