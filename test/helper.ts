import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'

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
  const config = loadConfig({}, { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...TEST_DEFAULTS, ...overrides })
  return await buildApp({ config, ...options })
}

export const jsonHeaders = { 'content-type': 'application/json' }
