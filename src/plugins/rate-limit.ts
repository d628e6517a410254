import rateLimit, { normalizeIP, type RateLimitPluginOptions } from '@fastify/rate-limit'
import type { FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { allowList, clusterNodes, type Config } from '../config.js'
import { AppError } from '../errors.js'
import { connect, type ChatClient } from '../store/redis/connection.js'

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
/** Clients whose keys are kept made; past this many the cache starts over. */
const MAX_CACHED_ADDRESSES = 10_000

/** Routes of other plugins that are never limited (ours say so with `config: { rateLimit: false }`). */
const EXEMPT_PREFIXES = ['/docs']

const RateLimitHeaders = {
  'RateLimit-Limit': { type: 'integer', description: 'Requests allowed per window, for this client and kind of request (read or write).' },
  'RateLimit-Remaining': { type: 'integer', description: 'Requests left in the current window.' },
  'RateLimit-Reset': { type: 'integer', description: 'Seconds until the window resets.' }
}

/** A 429 as the contract words it; `statusCode` is what @fastify/rate-limit and Fastify read. */
export class RateLimitedError extends AppError {
  readonly statusCode = 429
  constructor (after: string, retryAfter: number) {
    super('rateLimited', `Rate limit exceeded, retry in ${after}`, { retryAfter })
    this.name = 'RateLimitedError'
  }
}

const bucketOf = (request: FastifyRequest): 'read' | 'write' => READ_METHODS.has(request.method) ? 'read' : 'write'

interface Keys { read: string, write: string, allowed: boolean }

/**
 * Reads and writes counted apart, each with its maximum over one window: per owner when the
 * request is authenticated (the auth plugin's onRequest hook, which runs before this one, set
 * `request.owner`), else per client address (IPv6 by /64). The allow-list's addresses are never
 * limited, authenticated or not. Keys are `read:<address>` and `write:<address>`, or
 * `read:owner:<owner>` and `write:owner:<owner>` (an address has no colon before its own).
 */
export function rateLimitOptions (config: Config): RateLimitPluginOptions {
  const allowed = new Set(allowList(config).map((address) => normalizeIP(address)))
  const byOwner = config.AUTH_MODE !== 'none'
  // normalizeIP is not cheap for an IPv6 address: each client's two keys are made once, as are an owner's.
  const keys = new Map<string, Keys>()
  const ownerKeys = new Map<string, Keys>()
  const keysOf = (ip: string): Keys => {
    let known = keys.get(ip)
    if (known === undefined) {
      const address = normalizeIP(ip)
      known = { read: `read:${address}`, write: `write:${address}`, allowed: allowed.has(address) }
      if (keys.size >= MAX_CACHED_ADDRESSES) keys.clear()
      keys.set(ip, known)
    }
    return known
  }
  const keysOfOwner = (owner: string): Keys => {
    let known = ownerKeys.get(owner)
    if (known === undefined) {
      known = { read: `read:owner:${owner}`, write: `write:owner:${owner}`, allowed: false }
      if (ownerKeys.size >= MAX_CACHED_ADDRESSES) ownerKeys.clear()
      ownerKeys.set(owner, known)
    }
    return known
  }
  return {
    global: true,
    hook: 'onRequest',
    enableDraftSpec: true,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    keyGenerator: (request) => (byOwner && request.owner !== '' ? keysOfOwner(request.owner) : keysOf(request.ip))[bucketOf(request)],
    max: (_request, key) => key.startsWith('read:') ? config.RATE_LIMIT_READ_MAX : config.RATE_LIMIT_WRITE_MAX,
    allowList: (request) => keysOf(request.ip).allowed,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after, Math.ceil(context.ttl / 1000))
  }
}

/** Exempts other plugins' routes, and declares the RateLimit-* headers on every answer of a limited route. */
function onRoute (route: RouteOptions): void {
  if (EXEMPT_PREFIXES.some((prefix) => route.url.startsWith(prefix))) {
    route.config = { ...route.config, rateLimit: false }
    return
  }
  const schema = route.schema as { response?: Record<string, Record<string, unknown>> } | undefined
  if (route.config?.rateLimit === false || schema?.response === undefined) return
  const response: Record<string, Record<string, unknown>> = {}
  for (const [status, answer] of Object.entries(schema.response)) {
    response[status] = { ...answer, headers: { ...RateLimitHeaders, ...(answer.headers as object | undefined) } }
  }
  route.schema = { ...route.schema, response }
}

/**
 * With STORE=redis the counts live in Redis (@fastify/rate-limit's Redis store, one script a
 * request), so that every replica counts against one limit; on a client of their own that fails at
 * once while Redis is away (the request then goes on unlimited, and the store answers it with a 503).
 */
function redisCounts (config: Config): ChatClient | undefined {
  if (config.STORE !== 'redis') return undefined
  return connect({
    ...(config.REDIS_URL === '' ? {} : { url: config.REDIS_URL }),
    clusterNodes: clusterNodes(config.REDIS_CLUSTER_NODES),
    commandTimeoutMs: config.LOCK_TIMEOUT_MS,
    offlineQueue: false
  })
}

/** @fastify/rate-limit, registered before every route; `app.rateLimit()` also guards the not-found handler. */
export default fp<{ config: Config }>(async (app, { config }) => {
  app.addHook('onRoute', onRoute)
  const redis = redisCounts(config)
  if (redis !== undefined) app.addHook('onClose', () => { redis.disconnect() })
  await app.register(rateLimit, {
    ...rateLimitOptions(config),
    ...(redis === undefined ? {} : { redis, nameSpace: `${config.REDIS_KEY_PREFIX}:rate:`, skipOnError: true })
  })
}, { name: 'rate-limit' })
