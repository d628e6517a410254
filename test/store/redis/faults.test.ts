import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreError } from '../../../src/store/errors.js'
import { createRedisStore, type RedisStore } from '../../../src/store/redis/redis-store.js'
import { build, jsonHeaders } from '../../helper.js'
import { freePorts, RedisProcess, startRedis } from '../../support/redis-cluster.js'

/** A Redis of its own that these tests stop, slow down and start again. */
let own: Awaited<ReturnType<typeof startRedis>>
beforeAll(async () => { own = await startRedis() })
afterAll(async () => { await own.stop() })

const TIMEOUT_MS = 400

async function failure (call: Promise<unknown>): Promise<{ err: unknown, ms: number }> {
  const started = Date.now()
  const err = await call.then(() => undefined, (e: unknown) => e)
  return { err, ms: Date.now() - started }
}

async function eventually (what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('the Redis backend when Redis fails', () => {
  let store: RedisStore
  beforeAll(async () => {
    store = createRedisStore({ url: own.url, keyPrefix: 'faults', commandTimeoutMs: TIMEOUT_MS, maxItems: 1000 })
    await store.backend.connected()
  })
  afterAll(async () => { await store.close() })

  it('answers unavailable (with a retry time) within the timeout while Redis is down, and recovers by itself', async () => {
    const chat = await store.create('o', { title: 'before' })
    await own.redis.kill()
    for (const call of [store.get('o', chat.id), store.list('o', { limit: 5 }), store.create('o', { title: 'x' }), store.update('o', chat.id, { title: 'y' }), store.count('o')]) {
      const { err, ms } = await failure(call)
      expect(err).toBeInstanceOf(StoreError)
      expect(err).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 })
      expect(ms).toBeLessThan(3 * TIMEOUT_MS + 500)
    }
    expect(await store.health()).toMatchObject({ ready: false, detail: 'Redis cannot be reached' })
    await own.redis.start()
    // No persistence: the new Redis is empty; the store reconnects and serves it.
    await eventually('ready', async () => (await store.health()).ready)
    const after = await store.create('o', { title: 'after' })
    expect(await store.get('o', after.id)).toEqual(after)
  })

  it('answers unavailable within the timeout when Redis is too slow', async () => {
    const admin = new Redis(own.url)
    try {
      await admin.call('CLIENT', 'PAUSE', String(3 * TIMEOUT_MS), 'ALL')
      const { err, ms } = await failure(store.list('o', { limit: 5 }))
      expect(err).toMatchObject({ code: 'unavailable' })
      expect(ms).toBeLessThan(3 * TIMEOUT_MS)
      await eventually('answering', async () => (await store.count('o')) >= 0)
    } finally {
      admin.disconnect()
    }
  })
})

describe('the app on STORE=redis when Redis fails', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await build({ STORE: 'redis', REDIS_URL: own.url, REDIS_KEY_PREFIX: 'faults-app', LOCK_TIMEOUT_MS: TIMEOUT_MS })
    await app.storeRecovery
  })
  afterAll(async () => { await app.close() })

  it('answers 503 with Retry-After, and /health/ready 503, while Redis is down; recovers by itself', async () => {
    expect((await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'a' } })).statusCode).toBe(201)
    await own.redis.kill()
    for (const request of [{ url: '/chats' }, { method: 'POST' as const, url: '/chats', headers: jsonHeaders, payload: { title: 'b' } }, { url: '/health/ready' }]) {
      const started = Date.now()
      const res = await app.inject(request)
      expect(Date.now() - started).toBeLessThan(3 * TIMEOUT_MS + 500)
      expect(res.statusCode, res.body).toBe(503)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      expect(res.json()).toMatchObject({ type: '/problems/unavailable' })
    }
    await own.redis.start()
    await eventually('ready', async () => (await app.inject({ url: '/health/ready' })).statusCode === 200)
    expect((await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'c' } })).statusCode).toBe(201)
    expect((await app.inject({ url: '/chats' })).json<{ total: number }>().total).toBe(1)
  })

  it('starts while Redis is unreachable, not ready until it answers', async () => {
    const [port] = await freePorts(1)
    const late = await build({ STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${port!}`, LOCK_TIMEOUT_MS: TIMEOUT_MS })
    try {
      await late.storeRecovery
      expect((await late.inject({ url: '/health/ready' })).statusCode).toBe(503)
      expect((await late.inject({ url: '/chats' })).statusCode).toBe(503)
      const dir = mkdtempSync(join(tmpdir(), 'redis-late-'))
      const redis = new RedisProcess(port!, dir)
      try {
        await redis.start()
        await eventually('ready', async () => (await late.inject({ url: '/health/ready' })).statusCode === 200)
        expect((await late.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'late' } })).statusCode).toBe(201)
      } finally {
        await redis.kill()
        rmSync(dir, { recursive: true, force: true })
      }
    } finally {
      await late.close()
    }
  })
})
