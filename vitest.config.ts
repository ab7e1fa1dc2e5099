import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real daemons; two cores take two files at a time.
    maxWorkers: 2,
    testTimeout: 60_000,
    // These 2-core machines are shared and two files run at once: a timing-bound step (a poll,
    // a heartbeat) can miss its window under load. A test that fails is run once more (the
    // default reporter marks it as retried, so a flake stays visible); twice is a failure.
    retry: 1,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/test-results.json' }
  }
})
