import { Ajv } from 'ajv'
import { Type, type Static } from 'typebox'

/**
 * Every setting the service reads from its environment, checked once at start.
 * `.env.example` and the README's configuration table list the same names.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info' }),
  MAX_ITEMS: Type.Integer({ minimum: 1, default: 10_000 }),
  /** The memory guard's budget for the store's data, in bytes (0 turns the guard off). */
  MAX_STORE_BYTES: Type.Integer({ minimum: 0, default: 256 * 1024 * 1024 }),
  LOCK_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 1000 }),
  BODY_LIMIT: Type.Integer({ minimum: 256, default: 16_384 }),
  RATE_LIMIT_READ_MAX: Type.Integer({ minimum: 1, default: 1000 }),
  RATE_LIMIT_WRITE_MAX: Type.Integer({ minimum: 1, default: 200 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60_000 }),
  RATE_LIMIT_ALLOW_LIST: Type.String({ default: '' }),
  /** Past any of these (0 turns one off), the service answers 503 instead of slowing everyone down. */
  PRESSURE_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000 }),
  PRESSURE_MAX_HEAP_USED_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  PRESSURE_MAX_RSS_BYTES: Type.Integer({ minimum: 0, default: 0 }),
  // At least 100 ms: a sample with no event-loop measurement in it reads as an infinite delay.
  PRESSURE_SAMPLE_INTERVAL_MS: Type.Integer({ minimum: 100, default: 1000 }),
  /** Signs list cursors; empty: a random key per process, so cursors do not outlive a restart. */
  CURSOR_SECRET: Type.String({ default: '' }),
  DATA_DIR: Type.String({ default: '' }),
  FSYNC: Type.Union([Type.Literal('always'), Type.Literal('everysec'), Type.Literal('no')], { default: 'everysec' }),
  /** Compaction starts when the log is at least this big and at least COMPACT_GROWTH_PERCENT of the last snapshot. */
  COMPACT_MIN_BYTES: Type.Integer({ minimum: 0, default: 64 * 1024 * 1024 }),
  COMPACT_GROWTH_PERCENT: Type.Integer({ minimum: 0, default: 100 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** Answers leave together at the end of each event-loop turn (src/plugins/reply-batching.ts). */
  BATCH_REPLIES: Type.Boolean({ default: true })
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

// Ajv (which the service loads anyway) fills the defaults and turns numeric strings into numbers
// as it checks; TypeBox's own `typebox/value` would be one more module to load at every start.
const checkConfig = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, verbose: true }).compile<Config>(ConfigSchema)

/** Reads `env` (only the names the schema knows), fills defaults, converts numbers, and fails on anything invalid. */
export function loadConfig (env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const candidate: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') candidate[key] = value
  }
  Object.assign(candidate, overrides)
  if (!checkConfig(candidate)) {
    // A union of literals fails once a literal in Ajv's words; say once which values it takes instead.
    const problems = (checkConfig.errors ?? []).filter((e) => e.keyword !== 'const').map((e) => {
      const name = e.instancePath.slice(1)
      if (e.keyword !== 'anyOf') return `${name || '(root)'} ${e.message ?? 'is invalid'}`
      const choices = (e.parentSchema as { anyOf?: { const?: unknown }[] }).anyOf?.map((c) => String(c.const)) ?? []
      return `${name} must be one of ${choices.join(', ')}`
    })
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  }
  return candidate
}

/** The allow-list of client addresses, split once. */
export function allowList (config: Config): string[] {
  return config.RATE_LIMIT_ALLOW_LIST.split(',').map((s) => s.trim()).filter(Boolean)
}
