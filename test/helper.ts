import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { LOCAL_REDIS_URL, uniquePrefix } from './support/redis.js'

/**
 * The store the route tests run on: `TEST_STORE=redis` (the `redis` project of vitest.config.ts)
 * runs the same tests on the Redis backend, each app with a key prefix of its own on the local
 * Redis, deleted after the file (test/support/redis-setup.ts). Tests that set DATA_DIR are about
 * the durable memory backend and keep it.
 */
export const TEST_STORE: 'memory' | 'redis' = process.env.TEST_STORE === 'redis' ? 'redis' : 'memory'
/** The key prefixes the apps of this file used. */
export const testPrefixes: string[] = []

function storeSettings (overrides: Partial<Config>): Partial<Config> {
  if (TEST_STORE !== 'redis' || overrides.DATA_DIR !== undefined || overrides.STORE !== undefined) return {}
  const prefix = uniquePrefix('app')
  testPrefixes.push(prefix)
  return { STORE: 'redis', REDIS_URL: LOCAL_REDIS_URL, REDIS_KEY_PREFIX: prefix }
}

/**
 * Rate limits no ordinary test reaches (tests that are about the limits set small ones).
 * Overload shedding off: a busy CI machine must not turn a test's requests into 503s.
 */
const TEST_DEFAULTS: Partial<Config> = {
  RATE_LIMIT_READ_MAX: 1_000_000,
  RATE_LIMIT_WRITE_MAX: 1_000_000,
  PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 0
}

/**
 * The real app with a fresh store, configured like production but for the overrides. Close it after.
 * `options` passes the rest of buildApp's (a logger, the auth plugin's timings).
 */
export async function build (overrides: Partial<Config> = {}, options: Omit<BuildOptions, 'config'> = {}): Promise<FastifyInstance> {
  const config = loadConfig({}, { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...TEST_DEFAULTS, ...storeSettings(overrides), ...overrides })
  return await buildApp({ config, ...options })
}

export const jsonHeaders = { 'content-type': 'application/json' }
