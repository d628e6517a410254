import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { Config } from '../../src/config.js'
import { build } from '../helper.js'

let app: FastifyInstance | undefined
let base = ''

/** Real sockets, so the limit keys on the real client address (127.0.0.1). */
async function serve (overrides: Partial<Config>): Promise<void> {
  app = await build({ RATE_LIMIT_READ_MAX: 3, RATE_LIMIT_WRITE_MAX: 2, RATE_LIMIT_WINDOW_MS: 60_000, ...overrides })
  base = await app.listen({ port: 0, host: '127.0.0.1' })
}

afterEach(async () => { await app?.close(); app = undefined })

const get = async (path: string): Promise<Response> => await fetch(`${base}${path}`)
const post = async (body: unknown): Promise<Response> =>
  await fetch(`${base}/chats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

const limits = (res: Response): [string | null, string | null, string | null] =>
  [res.headers.get('ratelimit-limit'), res.headers.get('ratelimit-remaining'), res.headers.get('ratelimit-reset')]

async function expectRateLimited (res: Response, limit: string): Promise<void> {
  expect(res.status).toBe(429)
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  expect(await res.json()).toMatchObject({ type: '/problems/rate-limited', title: 'Too many requests', status: 429 })
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
  expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60)
  expect(limits(res)[0]).toBe(limit)
  expect(limits(res)[1]).toBe('0')
  expect(res.headers.get('x-request-id')).toBeTruthy()
}

describe('rate limits per operation', () => {
  it('counts a client\'s reads across routes, with the RateLimit headers, then answers 429 problems with Retry-After', async () => {
    await serve({})
    const answers = [await get('/chats'), await get('/chats/nope'), await get('/chats?limit=1')]
    expect(answers.map((r) => r.status)).toEqual([200, 404, 200])
    expect(answers.map((r) => limits(r).slice(0, 2))).toEqual([['3', '2'], ['3', '1'], ['3', '0']])
    for (const res of answers) expect(Number(limits(res)[2])).toBeGreaterThan(0)
    await expectRateLimited(await get('/chats'), '3')
  })

  it('counts writes in their own bucket: spent writes leave reads alone', async () => {
    await serve({})
    expect((await post({ title: 'a' })).status).toBe(201)
    const second = await post({ title: 'b' })
    expect(second.status).toBe(201)
    expect(limits(second).slice(0, 2)).toEqual(['2', '0'])
    await expectRateLimited(await post({ title: 'c' }), '2')
    // Even a body that would be refused is counted and refused by the limit first.
    await expectRateLimited(await post({}), '2')

    const read = await get('/chats')
    expect(read.status).toBe(200)
    expect(limits(read).slice(0, 2)).toEqual(['3', '2'])
    expect(((await read.json()) as { total: number }).total).toBe(2)
  })

  it('limits the not-found handler too', async () => {
    await serve({})
    for (let i = 0; i < 3; i++) expect((await get('/no/such/route')).status).toBe(404)
    await expectRateLimited(await get('/no/such/route'), '3')
  })

  it('exempts health, metrics and docs', async () => {
    await serve({ RATE_LIMIT_READ_MAX: 1 })
    for (let i = 0; i < 4; i++) {
      for (const path of ['/health/live', '/health/ready', '/metrics', '/docs/', '/openapi.json']) {
        const res = await get(path)
        expect(res.status, path).toBe(200)
        expect(res.headers.get('ratelimit-limit'), path).toBeNull()
        await res.arrayBuffer()
      }
    }
    expect((await get('/chats')).status).toBe(200)
    expect((await get('/chats')).status).toBe(429)
  })

  it('never limits the addresses of RATE_LIMIT_ALLOW_LIST (load tests from one host)', async () => {
    await serve({ RATE_LIMIT_ALLOW_LIST: '10.0.0.1, 127.0.0.1' })
    for (let i = 0; i < 10; i++) {
      const res = await post({ title: `chat ${i}` })
      expect(res.status).toBe(201)
      expect(res.headers.get('ratelimit-limit')).toBeNull()
    }
  })

  it('declares the RateLimit headers in the OpenAPI document on every answer of the limited routes, and only there', async () => {
    await serve({})
    const doc = await (await get('/openapi.json')).json() as { paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>> }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          const declared = Object.keys(response.headers ?? {})
          if (path.startsWith('/chats') || path === '/changes') expect(declared, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']))
          else expect(declared, `${method} ${path} ${status}`).not.toContain('RateLimit-Limit')
        }
      }
    }
    const tooMany = doc.paths['/chats']!.post!.responses['429']!
    expect(Object.keys(tooMany.headers ?? {})).toContain('Retry-After')
  })
})
