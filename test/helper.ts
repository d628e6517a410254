import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'

/** The real app with a fresh store, configured like production but for the overrides. Close it after. */
export async function build (overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  const config = loadConfig({}, { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides })
  return await buildApp({ config })
}

export const jsonHeaders = { 'content-type': 'application/json' }
