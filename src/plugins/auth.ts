import { createPublicKey, hash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fastifyJwt from '@fastify/jwt'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { TokenError, type Algorithm } from 'fast-jwt'
import fp from 'fastify-plugin'
import buildGetJwks from 'get-jwks'
import { ConfigError, usesApiKeys, usesJwt, type Config } from '../config.js'
import { AppError, unauthorized } from '../errors.js'
import { DEFAULT_OWNER } from '../store/types.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The principal the request acts for: `default` with AUTH_MODE=none, else the JWT's owner claim or
     * the API key's owner. Set before the handlers of every data route (an onRequest hook); '' on routes
     * that ask for no credentials (health, docs, OpenAPI, metrics) and while a request is refused.
     */
    owner: string
  }
}

/** Routes that never ask for credentials (other plugins' routes included); /metrics asks only for METRICS_TOKEN. */
const EXEMPT_PREFIXES = ['/health/', '/docs', '/openapi.json']
const METRICS_PATH = '/metrics'
/** A Bearer value of this shape is a JWT (three base64url parts; an unsigned one has an empty third). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const BEARER = /^Bearer +([^\s]+) *$/i
const MAX_OWNER_LENGTH = 128
/** Verified tokens kept (until their exp, at most TOKEN_CACHE_MS): a request with a known token costs a Map lookup. */
const TOKEN_CACHE_SIZE = 10_000
const TOKEN_CACHE_MS = 10 * 60_000

/** Knobs the tests turn; the defaults are the service's. */
export interface AuthTuning {
  /** How long a key fetched from JWT_JWKS_URL is used before it is fetched again (a removed key works up to twice this). */
  jwksCacheMs?: number
  /** A JWKS fetch that takes longer than this fails the request with a 503 (the request is never held longer). */
  jwksTimeoutMs?: number
  /** At most one fetch for a kid never seen before, this often: random kids cannot hammer the JWKS server. */
  jwksUnknownKidCooldownMs?: number
}

const DEFAULT_TUNING: Required<AuthTuning> = { jwksCacheMs: 60_000, jwksTimeoutMs: 2000, jwksUnknownKidCooldownMs: 1000 }

/** What checking a credential gives: the owner, or the problem to answer. */
type Outcome = string | AppError

const validOwner = (owner: unknown): owner is string => {
  if (typeof owner !== 'string' || owner === '') return false
  // Code points, as the contract counts characters; a string of at most 128 UTF-16 units has at most 128.
  return owner.length <= MAX_OWNER_LENGTH || Array.from(owner).length <= MAX_OWNER_LENGTH
}

/** SHA-256, hex. The one-shot `crypto.hash` costs a third of a `createHash` object per request. */
const sha256Hex = (text: string): string => hash('sha256', text)
const sha256 = (text: string): Buffer => Buffer.from(sha256Hex(text), 'hex')

/**
 * The API keys of API_KEYS_FILE: `<owner> <sha256 of the key, hex>` a line, `#` to the end of a line
 * is a comment, blank lines skipped. Keys are found by the hash of the presented key, compared in
 * constant time; the file holds no key in the clear.
 */
export class ApiKeys {
  private byHash = new Map<string, { owner: string, hash: Buffer }>()

  constructor (readonly file: string) {
    this.load()
  }

  get size (): number { return this.byHash.size }

  /** Reads the file again; on any error the keys in use stay as they were and the error is thrown. */
  load (): void {
    this.byHash = parseApiKeys(readFileSync(this.file, 'utf8'), this.file)
  }

  ownerOf (key: string): string | undefined {
    const digest = sha256Hex(key)
    const entry = this.byHash.get(digest)
    return entry !== undefined && timingSafeEqual(entry.hash, Buffer.from(digest, 'hex')) ? entry.owner : undefined
  }
}

export function parseApiKeys (text: string, file = 'API_KEYS_FILE'): Map<string, { owner: string, hash: Buffer }> {
  const keys = new Map<string, { owner: string, hash: Buffer }>()
  const lines = text.split(/\r?\n/)
  for (const [i, raw] of lines.entries()) {
    const hashAt = raw.indexOf('#')
    const line = (hashAt === -1 ? raw : raw.slice(0, hashAt)).trim()
    if (line === '') continue
    const fields = line.split(/\s+/)
    const [owner, hex] = fields
    const where = `${file} line ${i + 1}`
    if (fields.length !== 2 || owner === undefined || hex === undefined) throw new ConfigError(`${where}: expected "<owner> <sha256 of the key, hex>"`)
    if (!validOwner(owner)) throw new ConfigError(`${where}: the owner must be 1–${MAX_OWNER_LENGTH} characters`)
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(`${where}: the key's SHA-256 must be 64 hex digits (the file holds no key in the clear)`)
    const digest = hex.toLowerCase()
    if (keys.has(digest)) throw new ConfigError(`${where}: the same key is listed twice`)
    keys.set(digest, { owner, hash: Buffer.from(digest, 'hex') })
  }
  return keys
}

/** The algorithms a PEM public key verifies, by its type: the token's `alg` must be one of them. */
export function algorithmsOfPublicKey (pem: string): Algorithm[] {
  let key
  try {
    key = createPublicKey(pem)
  } catch (err) {
    throw new ConfigError(`JWT_PUBLIC_KEY is not a PEM public key: ${(err as Error).message}`)
  }
  const type = key.asymmetricKeyType
  if (type === 'rsa') return ['RS256', 'RS384', 'RS512', 'PS256']
  if (type === 'rsa-pss') return ['PS256']
  if (type === 'ed25519') return ['EdDSA']
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    const alg = curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : undefined
    if (alg !== undefined) return [alg]
  }
  throw new ConfigError(`JWT_PUBLIC_KEY: a ${type ?? 'unknown'} key is not supported (RSA, EC P-256/384/521 or Ed25519)`)
}

/** A JWKS fetch that did not finish in time: the service cannot check tokens just now (503, not the client's fault). */
class JwksUnavailable extends Error {}
/** A token whose kid the JWKS does not have, asked again too soon: refused without a fetch. */
class UnknownKid extends Error {}

/** How many kids' last good keys are kept for a JWKS that cannot be reached. */
const LAST_GOOD_KEYS = 100

/**
 * Keys from JWT_JWKS_URL through get-jwks (picked by kid, cached, fetched again for an unknown kid),
 * with a timeout. When the JWKS cannot be reached, a kid's last good key serves one cache time more
 * (a JWKS outage does not lock every user out); a kid the JWKS answers without is refused at once.
 * get-jwks's own stale cache would answer that kid too, so it is emptied before each fetch.
 */
function jwksKeys (url: string, tuning: Required<AuthTuning>, log: FastifyBaseLogger): (decoded: { header: Record<string, unknown> }) => Promise<string> {
  const parsed = new URL(url)
  const domain = `${parsed.origin}/`
  const jwks = buildGetJwks({ ttl: tuning.jwksCacheMs, jwksPath: `${parsed.pathname}${parsed.search}` })
  // get-jwks's caches are lru-cache's, whose `has` its type declarations leave out.
  const cached = (key: string): boolean => (jwks.cache as unknown as { has: (k: string) => boolean }).has(key)
  const lastGood = new Map<string, { pem: string, until: number }>()
  /** Kids whose last fetch could not reach the JWKS: asked again without the cooldown. */
  const unreachable = new Set<string>()
  let lastUnknownFetch = -Infinity
  return async ({ header }) => {
    const { kid, alg } = header
    if (typeof kid !== 'string' || kid === '') throw new UnknownKid('The token names no key (kid)')
    if (typeof alg !== 'string') throw new UnknownKid('The token names no algorithm')
    const cacheKey = jwks.generateCacheKey(alg, kid, domain)
    const fresh = cached(cacheKey)
    if (!fresh) {
      // An expired entry moves to the stale cache as it goes: out of both, then.
      jwks.cache.delete(cacheKey)
      jwks.staleCache.delete(cacheKey)
      if (!lastGood.has(cacheKey) && !unreachable.has(cacheKey)) {
        const now = Date.now()
        if (now - lastUnknownFetch < tuning.jwksUnknownKidCooldownMs) throw new UnknownKid(`No key ${kid} in the JWKS`)
        lastUnknownFetch = now
      }
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // The next request for this key fetches anew instead of waiting on this fetch.
        jwks.cache.delete(cacheKey)
        reject(new JwksUnavailable(`The JWKS did not answer within ${tuning.jwksTimeoutMs} ms`))
      }, tuning.jwksTimeoutMs)
    })
    try {
      const pem = await Promise.race([jwks.getPublicKey({ domain, alg, kid }), timeout])
      unreachable.delete(cacheKey)
      if (!fresh) {
        lastGood.delete(cacheKey)
        if (lastGood.size >= LAST_GOOD_KEYS) lastGood.delete(lastGood.keys().next().value!)
        lastGood.set(cacheKey, { pem, until: Date.now() + 2 * tuning.jwksCacheMs })
      }
      return pem
    } catch (err) {
      const code = (err as { code?: unknown }).code
      // get-jwks: no key of that kid (and alg, when the JWK names one) in the set: taken out, or never there.
      if (code === 'JWK_NOT_FOUND' || code === 'NO_JWKS') {
        lastGood.delete(cacheKey)
        unreachable.delete(cacheKey)
        throw new UnknownKid(`No key ${kid} for ${alg} in the JWKS`)
      }
      const failure = err instanceof JwksUnavailable ? err : new JwksUnavailable(`The JWKS could not be fetched: ${(err as Error).message}`)
      if (unreachable.size >= LAST_GOOD_KEYS) unreachable.clear()
      unreachable.add(cacheKey)
      const last = lastGood.get(cacheKey)
      if (last !== undefined && Date.now() < last.until) {
        log.warn({ url, kid, err: failure.message }, 'JWKS fetch failed: its last good key serves meanwhile')
        return last.pem
      }
      log.warn({ url, kid, err: failure.message }, 'JWKS fetch failed: tokens of this key get 503 until it answers')
      throw failure
    } finally {
      clearTimeout(timer)
    }
  }
}

function tokenProblem (err: unknown): AppError {
  if (err instanceof AppError) return err
  const original = (err as { originalError?: unknown }).originalError
  if (original instanceof JwksUnavailable) return new AppError('unavailable', 'The keys to check tokens with could not be fetched in time', { retryAfter: 5 })
  if (original instanceof UnknownKid) return unauthorized(original.message, true)
  if (err instanceof TokenError) {
    const detail: Partial<Record<string, string>> = {
      [TokenError.codes.expired]: 'The token has expired',
      [TokenError.codes.inactive]: 'The token is not valid yet (nbf)',
      [TokenError.codes.invalidSignature]: 'The token\'s signature is wrong',
      [TokenError.codes.invalidAlgorithm]: 'The token\'s algorithm is not the key\'s',
      [TokenError.codes.missingSignature]: 'The token is not signed',
      [TokenError.codes.malformed]: 'The token is malformed',
      [TokenError.codes.invalidClaimValue]: 'The token\'s issuer or audience is not accepted',
      [TokenError.codes.invalidClaimType]: 'The token has a claim of the wrong type',
      [TokenError.codes.missingRequiredClaim]: 'The token has no issuer or audience',
      [TokenError.codes.keyFetchingError]: 'The token\'s key is unknown'
    }
    return unauthorized(detail[err.code] ?? 'The token is invalid', true)
  }
  return unauthorized('The token is invalid', true)
}

interface CachedToken { owner: string, notBefore: number, expiresAt: number }

/**
 * Tokens verified once, kept until their `exp` (with the skew), at most `maxAgeMs`: the same
 * token again costs a Map lookup instead of a signature check. Bounded; the oldest go first.
 */
class TokenCache {
  private readonly tokens = new Map<string, CachedToken>()
  constructor (private readonly maxAgeMs: number, private readonly skewMs: number) {}

  get (token: string, now: number): string | undefined {
    const hit = this.tokens.get(token)
    if (hit === undefined) return undefined
    if (now > hit.expiresAt) { this.tokens.delete(token); return undefined }
    return now >= hit.notBefore ? hit.owner : undefined
  }

  set (token: string, owner: string, payload: Record<string, unknown>, now: number): void {
    const { exp, nbf } = payload
    let expiresAt = now + this.maxAgeMs
    if (typeof exp === 'number') expiresAt = Math.min(expiresAt, exp * 1000 + this.skewMs)
    const notBefore = typeof nbf === 'number' ? nbf * 1000 - this.skewMs : 0
    if (this.tokens.size >= TOKEN_CACHE_SIZE) this.tokens.delete(this.tokens.keys().next().value!)
    this.tokens.set(token, { owner, notBefore, expiresAt })
  }
}

type Verify = (token: string) => Record<string, unknown> | Promise<Record<string, unknown>>

/** Registers @fastify/jwt for the configured key and answers its verify: sync for a secret or PEM key, async for JWKS. */
async function jwtVerifier (app: FastifyInstance, config: Config, tuning: Required<AuthTuning>): Promise<Verify> {
  // fast-jwt checks a claim only when the token has it: a token without iss or aud must not pass either.
  const requiredClaims = [...(config.JWT_ISSUER === '' ? [] : ['iss']), ...(config.JWT_AUDIENCE === '' ? [] : ['aud'])]
  const verify = {
    allowedIss: config.JWT_ISSUER === '' ? undefined : config.JWT_ISSUER,
    allowedAud: config.JWT_AUDIENCE === '' ? undefined : config.JWT_AUDIENCE,
    ...(requiredClaims.length === 0 ? {} : { requiredClaims }),
    clockTolerance: config.JWT_CLOCK_SKEW_S * 1000,
    // TokenCache keeps the verified tokens; fast-jwt's own cache would also keep failures.
    cache: false
  }
  if (config.JWT_SECRET !== '') {
    await app.register(fastifyJwt, { secret: config.JWT_SECRET, verify: { ...verify, algorithms: ['HS256', 'HS384', 'HS512'] } })
  } else if (config.JWT_PUBLIC_KEY !== '') {
    // An env file keeps a PEM on one line with \n for its line breaks.
    const pem = config.JWT_PUBLIC_KEY.replaceAll('\\n', '\n')
    await app.register(fastifyJwt, { secret: { public: pem }, verify: { ...verify, algorithms: algorithmsOfPublicKey(pem) } })
  } else {
    // The key's own algorithms (fast-jwt reads them from the PEM get-jwks makes of the JWK); never HS.
    const key = jwksKeys(config.JWT_JWKS_URL, tuning, app.log)
    await app.register(fastifyJwt, { secret: key as unknown as string, verify })
  }
  return (token) => app.jwt.verify(token)
}

/** Checks the request's credentials as AUTH_MODE says; sync but for a JWKS key fetch. */
function credentialChecker (config: Config, tuning: Required<AuthTuning>, apiKeys: ApiKeys | undefined, verify: Verify | undefined): (request: FastifyRequest) => Outcome | Promise<Outcome> {
  const claim = config.JWT_OWNER_CLAIM
  // A token signed by a key taken out of the JWKS works no longer than the key itself is kept.
  const cache = new TokenCache(config.JWT_JWKS_URL === '' ? TOKEN_CACHE_MS : Math.min(TOKEN_CACHE_MS, tuning.jwksCacheMs), config.JWT_CLOCK_SKEW_S * 1000)
  const ownerOfPayload = (token: string, payload: Record<string, unknown>): Outcome => {
    const owner = payload[claim]
    if (!validOwner(owner)) return unauthorized(`The token's ${claim} claim must be a string of 1–${MAX_OWNER_LENGTH} characters`, true)
    cache.set(token, owner, payload, Date.now())
    return owner
  }
  const checkJwt = (token: string): Outcome | Promise<Outcome> => {
    const known = cache.get(token, Date.now())
    if (known !== undefined) return known
    let verified
    try {
      verified = verify!(token)
    } catch (err) {
      return tokenProblem(err)
    }
    if (verified instanceof Promise) return verified.then((payload) => ownerOfPayload(token, payload), tokenProblem)
    return ownerOfPayload(token, verified)
  }
  const checkKey = (key: string): Outcome => apiKeys!.ownerOf(key) ?? unauthorized('Unknown API key', true)
  const wantsJwt = verify !== undefined
  const wantsKeys = apiKeys !== undefined
  const expected = wantsJwt && wantsKeys ? 'a Bearer JWT or API key, or an X-API-Key' : wantsJwt ? 'a Bearer JWT' : 'a Bearer API key or an X-API-Key'

  return (request) => {
    const authorization = request.headers.authorization
    if (authorization !== undefined) {
      const bearer = BEARER.exec(authorization)?.[1]
      if (bearer === undefined) {
        return /^Bearer(\s|$)/i.test(authorization) ? unauthorized('Malformed Authorization header: expected Bearer <token>', true) : unauthorized(`Send ${expected}`, false)
      }
      if (wantsJwt && (!wantsKeys || JWT_SHAPE.test(bearer))) return checkJwt(bearer)
      return checkKey(bearer)
    }
    const apiKey = request.headers['x-api-key']
    if (wantsKeys && apiKey !== undefined) {
      return typeof apiKey === 'string' && apiKey !== '' ? checkKey(apiKey) : unauthorized('Malformed X-API-Key header', true)
    }
    return unauthorized(`Credentials are missing: send ${expected}`, false)
  }
}

function addRouteHook (route: RouteOptions, name: 'onRequest' | 'preParsing', hook: unknown): void {
  const current = route[name] as unknown
  const hooks: unknown[] = current === undefined ? [] : Array.isArray(current) ? current : [current]
  ;(route as unknown as Record<string, unknown[]>)[name] = [...hooks, hook]
}

const isExempt = (route: RouteOptions): boolean =>
  [route.method].flat().every((m) => m === 'OPTIONS') || EXEMPT_PREFIXES.some((prefix) => route.url.startsWith(prefix))

/**
 * Who the caller is. AUTH_MODE=none: every request is `default`. Otherwise every route but health,
 * docs, OpenAPI and metrics gets two hooks: an onRequest hook that checks the credentials and sets
 * `request.owner` (so the rate limit, registered after it, counts per owner), and a preParsing hook
 * that answers 401 (or 503 when JWKS keys could not be had) for a request whose check failed, after
 * the rate limit has counted it by address and before its body is read. METRICS_TOKEN guards /metrics.
 */
export default fp<{ config: Config, tuning?: AuthTuning }>(async (app, { config, tuning: overrides }) => {
  const tuning = { ...DEFAULT_TUNING, ...overrides }
  const metricsToken = config.METRICS_TOKEN === '' ? undefined : sha256(config.METRICS_TOKEN)
  if (metricsToken !== undefined) {
    const guardMetrics = (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
      const sent = BEARER.exec(request.headers.authorization ?? '')?.[1]
      if (sent !== undefined && timingSafeEqual(sha256(sent), metricsToken)) { done(); return }
      done(unauthorized(sent === undefined ? 'Send Authorization: Bearer <METRICS_TOKEN>' : 'Wrong metrics token', sent !== undefined))
    }
    app.addHook('onRoute', (route) => { if (route.url === METRICS_PATH) addRouteHook(route, 'onRequest', guardMetrics) })
  }

  if (config.AUTH_MODE === 'none') {
    app.decorateRequest('owner', DEFAULT_OWNER)
    return
  }
  app.decorateRequest('owner', '')

  let apiKeys: ApiKeys | undefined
  if (usesApiKeys(config)) {
    try {
      apiKeys = new ApiKeys(config.API_KEYS_FILE)
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw new ConfigError(`API_KEYS_FILE ${config.API_KEYS_FILE} cannot be read: ${(err as Error).message}`)
    }
    if (apiKeys.size === 0) app.log.warn({ file: config.API_KEYS_FILE }, 'API_KEYS_FILE lists no key: no API key is accepted')
    const keys = apiKeys
    const reload = (): void => {
      try {
        keys.load()
        app.log.info({ file: keys.file, keys: keys.size }, 'API keys read again (SIGHUP)')
      } catch (err) {
        app.log.error({ file: keys.file, err: (err as Error).message }, 'API keys not read again (SIGHUP): the keys in use stay')
      }
    }
    process.on('SIGHUP', reload)
    app.addHook('onClose', async () => { process.removeListener('SIGHUP', reload) })
  }
  const verify = usesJwt(config) ? await jwtVerifier(app, config, tuning) : undefined
  const check = credentialChecker(config, tuning, apiKeys, verify)

  // Only failures are kept (the happy path sets `owner` and nothing else).
  const refusals = new WeakMap<FastifyRequest, AppError>()
  const settle = (request: FastifyRequest, outcome: Outcome): void => {
    if (typeof outcome === 'string') request.owner = outcome
    else refusals.set(request, outcome)
  }
  // Callback hooks: a promise a request costs more than the check of a cached token.
  const authenticate = (request: FastifyRequest, _reply: FastifyReply, done: () => void): void => {
    const outcome = check(request)
    if (outcome instanceof Promise) {
      outcome.then((o) => { settle(request, o); done() }, (err: unknown) => { settle(request, tokenProblem(err)); done() })
      return
    }
    settle(request, outcome)
    done()
  }
  const refuse = (request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void): void => {
    if (request.owner !== '') { done(null, payload); return }
    done(refusals.get(request) ?? unauthorized('Credentials are missing', false))
  }
  app.addHook('onRoute', (route) => {
    if (isExempt(route) || route.url === METRICS_PATH) return
    addRouteHook(route, 'onRequest', authenticate)
    addRouteHook(route, 'preParsing', refuse)
  })
}, { name: 'auth' })
