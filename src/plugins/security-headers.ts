import type { IncomingMessage, ServerResponse } from 'node:http'
import cors from '@fastify/cors'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { Config } from '../config.js'

/** The headers helmet sets with these options, worked out once (they depend on nothing in a request). */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: unknown) { headers[name.toLowerCase()] = String(value) },
    removeHeader () {}
  }
  helmet(options)(Object.create(null) as IncomingMessage, res as unknown as ServerResponse, () => {})
  return headers
}

/** Swagger UI (its scripts, styles and images are its own files; "Try it out" calls this origin). */
export const DOCS_OPTIONS: HelmetOptions = {
  // helmet's defaults, but for upgrade-insecure-requests: the service may be served over plain HTTP.
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } }
}

/** JSON answers: nothing to load, nothing to frame, never sniffed. */
export const apiOptions = (corsOn: boolean): HelmetOptions => ({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ['\'none\''], frameAncestors: ['\'none\''] } },
  // Other origins may read answers when CORS_ORIGINS lets them.
  crossOriginResourcePolicy: { policy: corsOn ? 'cross-origin' : 'same-origin' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false
})

/** The headers CORS lets a page on an allowed origin read. */
export const EXPOSED_HEADERS = ['ETag', 'Location', 'X-Request-Id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']

export function corsOrigins (config: Config): string[] | '*' | undefined {
  const origins = config.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean)
  if (origins.length === 0) return undefined
  return origins.includes('*') ? '*' : origins
}

/**
 * helmet's headers on every answer (X-Content-Type-Options: nosniff among them), a Swagger UI
 * CSP under /docs and a strict one elsewhere, set in one hook registered before every guard, so
 * that 429s, 503s and 401s carry them too. The headers are @fastify/helmet's with the same options
 * (test/plugins/security-headers.test.ts compares them), worked out once: @fastify/helmet builds
 * helmet's middleware anew on every request, in two more hooks, which cost 16 µs of CPU per GET
 * here (37 → 53 µs, docs/performance.md). Then CORS from CORS_ORIGINS:
 * preflights answered before any credential is asked for, and the contract's headers exposed.
 */
export default fp<{ config: Config }>(async (app, { config }) => {
  const origins = corsOrigins(config)
  const api = helmetHeaders(apiOptions(origins !== undefined))
  const docs = helmetHeaders(DOCS_OPTIONS)
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.headers(request.url.startsWith('/docs') ? docs : api)
    done()
  })
  if (origins === undefined) return
  await app.register(cors, {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'X-Request-Id', 'Last-Event-ID'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600
  })
}, { name: 'security-headers' })
