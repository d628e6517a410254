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
  BATCH_REPLIES: Type.Boolean({ default: true }),
  /** Where a request's owner comes from (src/plugins/auth.ts); no default with NODE_ENV=production. */
  AUTH_MODE: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('jwt'), Type.Literal('api-key'), Type.Literal('jwt,api-key')])),
  /** HS256/384/512 secret; or JWT_PUBLIC_KEY (PEM; `\n` may stand for line breaks); or JWT_JWKS_URL. One of the three. */
  JWT_SECRET: Type.String({ default: '' }),
  JWT_PUBLIC_KEY: Type.String({ default: '' }),
  JWT_JWKS_URL: Type.String({ default: '' }),
  JWT_ISSUER: Type.String({ default: '' }),
  JWT_AUDIENCE: Type.String({ default: '' }),
  JWT_OWNER_CLAIM: Type.String({ minLength: 1, default: 'sub' }),
  JWT_CLOCK_SKEW_S: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  /** `<owner> <sha256 hex of the key>` a line; read again on SIGHUP. */
  API_KEYS_FILE: Type.String({ default: '' }),
  /** When set, GET /metrics asks for `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: Type.String({ default: '' }),
  /** Comma list of allowed origins, or `*`; empty: no CORS. */
  CORS_ORIGINS: Type.String({ default: '' }),
  /** One owner holds at most this many chats; 0: only MAX_ITEMS. */
  MAX_ITEMS_PER_OWNER: Type.Integer({ minimum: 0, default: 0 }),
  /** Where the chats live: this process (memory, durable with DATA_DIR) or Redis (docs/redis.md). */
  STORE: Type.Union([Type.Literal('memory'), Type.Literal('redis')], { default: 'memory' }),
  /** STORE=redis: one node (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS)... */
  REDIS_URL: Type.String({ default: '' }),
  /** ...or a Redis Cluster by its seed nodes, a comma list of host:port. */
  REDIS_CLUSTER_NODES: Type.String({ default: '' }),
  /** Every key starts with this, so that several services share one Redis. */
  REDIS_KEY_PREFIX: Type.String({ minLength: 1, pattern: '^[^{}\\s]+$', default: 'chats' }),
  /** Cluster: gets, counts and lists read from replicas (possibly stale just after a write). */
  REDIS_READ_FROM_REPLICAS: Type.Boolean({ default: false }),
  /** After each write, WAIT for this many replicas; fewer in time: the answer is a 503 (the write was applied on the primary). */
  REDIS_WAIT_REPLICAS: Type.Integer({ minimum: 0, default: 0 }),
  /** Chats of the pages each process keeps to answer a list again while its owner made no write (docs/redis.md); 0: none. */
  REDIS_LIST_CACHE_CHATS: Type.Integer({ minimum: 0, default: 20_000 }),
  /** How long an Idempotency-Key of POST /chats is remembered. */
  IDEMPOTENCY_TTL_S: Type.Integer({ minimum: 1, default: 86_400 }),
  /** Versions kept per chat for GET /chats/{id}/history, the current one included; 0: off. */
  HISTORY_VERSIONS: Type.Integer({ minimum: 0, maximum: 1000, default: 10 }),
  /** Changes kept per owner for GET /changes. */
  CHANGES_RETAIN: Type.Integer({ minimum: 1, default: 10_000 }),
  /** Open GET /changes event streams at most; past it a new one is a 503. */
  CHANGES_MAX_STREAMS: Type.Integer({ minimum: 1, default: 5000 })
})

type Settings = Static<typeof ConfigSchema>
export type AuthMode = NonNullable<Settings['AUTH_MODE']>
/** The settings as checked: AUTH_MODE is always known (`none` by default outside production). */
export type Config = Omit<Settings, 'AUTH_MODE'> & { AUTH_MODE: AuthMode }

export class ConfigError extends Error {
  override name = 'ConfigError'
}

// Ajv (which the service loads anyway) fills the defaults and turns numeric strings into numbers
// as it checks; TypeBox's own `typebox/value` would be one more module to load at every start.
const checkConfig = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, verbose: true }).compile<Settings>(ConfigSchema)

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
  return checkStore(checkAuth(candidate))
}

/** The seed nodes of REDIS_CLUSTER_NODES, or a message naming what is wrong with it. */
export function clusterNodes (value: string): { host: string, port: number }[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean).map((node) => {
    const m = /^(.+):(\d{1,5})$/.exec(node)
    const port = m === null ? NaN : Number(m[2])
    if (m === null || port < 1 || port > 65535) throw new ConfigError(`Invalid configuration: REDIS_CLUSTER_NODES must be a comma list of host:port, not ${JSON.stringify(node)}`)
    return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port }
  })
}

/** The combinations of store settings that cannot work stop the start, naming the variables. */
function checkStore (config: Config): Config {
  const redisSet = (['REDIS_URL', 'REDIS_CLUSTER_NODES'] as const).filter((name) => config[name] !== '')
  if (config.STORE === 'redis') {
    if (config.DATA_DIR !== '') throw new ConfigError('Invalid configuration: STORE=redis keeps the chats in Redis; DATA_DIR is for STORE=memory (unset one of them)')
    if (redisSet.length === 0) throw new ConfigError('Invalid configuration: STORE=redis needs REDIS_URL (one node) or REDIS_CLUSTER_NODES (a cluster)')
    if (redisSet.length > 1) throw new ConfigError('Invalid configuration: set one of REDIS_URL, REDIS_CLUSTER_NODES, not both')
    if (config.REDIS_URL !== '' && !/^rediss?:\/\//.test(config.REDIS_URL)) throw new ConfigError('Invalid configuration: REDIS_URL must be a redis:// or rediss:// URL')
    clusterNodes(config.REDIS_CLUSTER_NODES)
    if (config.REDIS_READ_FROM_REPLICAS && config.REDIS_CLUSTER_NODES === '') throw new ConfigError('Invalid configuration: REDIS_READ_FROM_REPLICAS needs REDIS_CLUSTER_NODES (replicas are found through the cluster)')
  }
  return config
}

/** The combinations of auth settings that cannot work stop the start, naming the variables. */
function checkAuth (settings: Settings): Config {
  if (settings.AUTH_MODE === undefined && settings.NODE_ENV === 'production') {
    throw new ConfigError('Invalid configuration: AUTH_MODE must be set with NODE_ENV=production (none, jwt, api-key or jwt,api-key)')
  }
  const config: Config = { ...settings, AUTH_MODE: settings.AUTH_MODE ?? 'none' }
  const mode = config.AUTH_MODE
  if (mode === 'jwt' || mode === 'jwt,api-key') {
    const keys = (['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const).filter((name) => config[name] !== '')
    if (keys.length === 0) throw new ConfigError(`Invalid configuration: AUTH_MODE=${mode} needs a key to check tokens with: JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL`)
    if (keys.length > 1) throw new ConfigError(`Invalid configuration: set one of ${keys.join(', ')}, not several`)
    if (config.JWT_SECRET !== '' && Buffer.byteLength(config.JWT_SECRET) < 32) throw new ConfigError('Invalid configuration: JWT_SECRET must be at least 32 bytes')
    if (config.JWT_JWKS_URL !== '' && !/^https?:\/\/[^/]/.test(config.JWT_JWKS_URL)) throw new ConfigError('Invalid configuration: JWT_JWKS_URL must be an http(s) URL')
  }
  if ((mode === 'api-key' || mode === 'jwt,api-key') && config.API_KEYS_FILE === '') {
    throw new ConfigError(`Invalid configuration: AUTH_MODE=${mode} needs API_KEYS_FILE`)
  }
  return config
}

/** Whether requests carry API keys (and SIGHUP reads the keys file again). */
export const usesApiKeys = (config: Config): boolean => config.AUTH_MODE === 'api-key' || config.AUTH_MODE === 'jwt,api-key'
export const usesJwt = (config: Config): boolean => config.AUTH_MODE === 'jwt' || config.AUTH_MODE === 'jwt,api-key'

/** The allow-list of client addresses, split once. */
export function allowList (config: Config): string[] {
  return config.RATE_LIMIT_ALLOW_LIST.split(',').map((s) => s.trim()).filter(Boolean)
}
