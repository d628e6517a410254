import fastifyHelmet from '@fastify/helmet'
import Fastify, { type FastifyInstance } from 'fastify'
import type { HelmetOptions } from 'helmet'
import { afterEach, describe, expect, it } from 'vitest'
import { apiOptions, DOCS_OPTIONS, EXPOSED_HEADERS } from '../../src/plugins/security-headers.js'
import { build } from '../helper.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close(); app = undefined })

describe('security headers', () => {
  it('puts X-Content-Type-Options: nosniff and a CSP on every answer: successes, errors, 404s, refusals, framework errors', async () => {
    app = await build({ AUTH_MODE: 'none', RATE_LIMIT_READ_MAX: 2 })
    const created = await app.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'application/json' }, payload: { title: 't' } })
    const answers = [
      created,
      await app.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'application/json' }, payload: '{bad' }),
      await app.inject({ method: 'GET', url: `/chats/${'x'.repeat(200)}` }),
      await app.inject({ method: 'GET', url: '/chats/%E0%A4%A' }),
      await app.inject({ method: 'GET', url: '/no/such/route' }),
      await app.inject({ method: 'GET', url: '/health/live' }),
      await app.inject({ method: 'GET', url: '/metrics' }),
      await app.inject({ method: 'GET', url: '/openapi.json' }),
      await app.inject({ method: 'GET', url: '/chats' }),
      await app.inject({ method: 'GET', url: '/chats' })
    ]
    expect(answers.at(-1)!.statusCode).toBe(429)
    for (const res of answers) {
      expect(res.headers['x-content-type-options'], `${res.statusCode} ${res.body.slice(0, 60)}`).toBe('nosniff')
    }
    expect(answers[0]!.headers['content-security-policy']).toBe('default-src \'none\';frame-ancestors \'none\'')
    expect(answers[0]!.headers['cross-origin-resource-policy']).toBe('same-origin')
  })

  it('gives Swagger UI a CSP that lets it load its own scripts and call this origin', async () => {
    app = await build()
    const page = await app.inject({ method: 'GET', url: '/docs/' })
    const csp = page.headers['content-security-policy'] as string
    expect(csp).toContain('script-src \'self\'')
    expect(csp).toContain('default-src \'self\'')
    expect(csp).not.toContain('upgrade-insecure-requests')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
  })

  it('sets exactly the headers @fastify/helmet sets with the same options, on the API and under /docs, with and without CORS', async () => {
    const helmetHeadersOf = async (options: HelmetOptions, url: string): Promise<Record<string, unknown>> => {
      const bare = Fastify()
      await bare.register(fastifyHelmet, options as never)
      bare.get(url, async () => 'x')
      const res = await bare.inject({ method: 'GET', url })
      await bare.close()
      return res.headers
    }
    const securityHeaders = (headers: Record<string, unknown>, names: string[]) => Object.fromEntries(names.map((name) => [name, headers[name]]))
    for (const cors of ['', 'https://app.example']) {
      app = await build({ CORS_ORIGINS: cors })
      for (const [url, options] of [['/health/live', apiOptions(cors !== '')], ['/docs/', DOCS_OPTIONS]] as const) {
        const expected = await helmetHeadersOf(options, url)
        const names = Object.keys(expected).filter((name) => !['content-type', 'content-length', 'date', 'connection'].includes(name))
        expect(names.length, url).toBeGreaterThan(2)
        const ours = await app.inject({ method: 'GET', url })
        expect(securityHeaders(ours.headers, names), `${url} CORS_ORIGINS=${cors}`).toEqual(securityHeaders(expected, names))
      }
      await app.close()
      app = undefined
    }
  })

  it('adds no CORS headers when CORS_ORIGINS is empty', async () => {
    app = await build()
    const res = await app.inject({ method: 'GET', url: '/chats', headers: { origin: 'https://app.example' } })
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    const preflight = await app.inject({ method: 'OPTIONS', url: '/chats', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('CORS_ORIGINS', () => {
  it('answers a preflight from an allowed origin without credentials, even with auth on, and exposes the contract\'s headers', async () => {
    app = await build({ CORS_ORIGINS: 'https://app.example, https://admin.example', AUTH_MODE: 'jwt', JWT_SECRET: 'a-test-secret-of-at-least-32-bytes-0123456789' })
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/chats/abc',
      headers: { origin: 'https://admin.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type, if-match' }
    })
    expect(preflight.statusCode).toBe(204)
    expect(preflight.headers['access-control-allow-origin']).toBe('https://admin.example')
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('PATCH')
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization')
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain('if-match')
    expect(preflight.headers['x-content-type-options']).toBe('nosniff')

    // The 401 itself carries the CORS headers, so that the page can read it.
    const refused = await app.inject({ method: 'GET', url: '/chats', headers: { origin: 'https://app.example' } })
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['access-control-allow-origin']).toBe('https://app.example')
    const exposed = String(refused.headers['access-control-expose-headers']).split(',').map((h) => h.trim().toLowerCase())
    for (const header of EXPOSED_HEADERS) expect(exposed).toContain(header.toLowerCase())
    expect(refused.headers['cross-origin-resource-policy']).toBe('cross-origin')

    const stranger = await app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example' } })
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('allows every origin with *', async () => {
    app = await build({ CORS_ORIGINS: '*' })
    const res = await app.inject({ method: 'GET', url: '/chats', headers: { origin: 'https://anything.example' } })
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(String(res.headers['access-control-expose-headers'])).toContain('ETag')
  })
})
