import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Every answer a test gets from the app is checked against openapi/openapi.json (test/contract/responses.ts).
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every test on the default store, then the HTTP contract tests again on the Redis backend (test/helper.ts).
    projects: [
      { extends: true, test: { name: 'memory', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'redis',
          include: ['test/routes/**/*.test.ts', 'test/e2e.test.ts'],
          env: { TEST_STORE: 'redis' },
          setupFiles: ['test/support/redis-setup.ts']
        }
      }
    ],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: ['src/server.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 90 }
    }
  }
})
