import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { Config } from '../src/config.js'
import { DEFAULT_OWNER, type Chat } from '../src/store/types.js'
import { MemoryChatStore, estimateBytes } from '../src/store/memory/memory-store.js'
import type { RwLock } from '../src/store/rw-lock.js'
import { build } from './helper.js'

/** Real sockets: the app listens on a free port and every request is a real HTTP request (fetch). */
let app: FastifyInstance | undefined
let base = ''

async function serve (overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  app = await build(overrides)
  base = await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

afterEach(async () => { await app?.close(); app = undefined })

interface Answer { status: number, headers: Headers, body: unknown }

async function call (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
}

const countBy = (answers: Answer[]): Record<number, number> =>
  answers.reduce<Record<number, number>>((acc, a) => { acc[a.status] = (acc[a.status] ?? 0) + 1; return acc }, {})

function memoryStore (server: FastifyInstance): MemoryChatStore {
  const { store } = server
  if (!(store.backend instanceof MemoryChatStore)) throw new Error('these tests check the in-memory store')
  return store.backend
}

describe('under concurrent load, over real sockets', () => {
  it('200 PATCHes of one chat with the same If-Match: exactly one wins, the rest are 412, the version is 2', async () => {
    const server = await serve()
    const created = await call('POST', '/chats', { title: 'contended' })
    const id = (created.body as Chat).id
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      call('PATCH', `/chats/${id}`, { description: `writer ${i}` }, { 'if-match': '"1"' })))

    expect(countBy(answers)).toEqual({ 200: 1, 412: 199 })
    const winner = answers.find((a) => a.status === 200)!
    expect(winner.headers.get('etag')).toBe('"2"')
    for (const lost of answers.filter((a) => a.status === 412)) {
      expect(lost.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      expect(lost.body).toMatchObject({ type: '/problems/precondition-failed', status: 412 })
    }
    const final = await call('GET', `/chats/${id}`)
    expect(final.body).toMatchObject({ version: 2, description: (winner.body as Chat).description })
    await memoryStore(server).checkInvariants()
  })

  it('1,000 concurrent mixed writes leave the store consistent: map, byte count and count agree', async () => {
    const server = await serve()
    const seeded = await Promise.all(Array.from({ length: 50 }, (_, i) => call('POST', '/chats', { title: `seed ${i}` })))
    const ids = seeded.map((a) => (a.body as Chat).id)
    const writes = Array.from({ length: 1000 }, (_, i) => {
      const id = ids[i % ids.length]!
      switch (i % 5) {
        case 0: return call('POST', '/chats', { title: `new ${i}`, description: 'x'.repeat(i % 300) })
        case 1: return call('PATCH', `/chats/${id}`, { description: 'y'.repeat(i % 500), priority: 'high' })
        case 2: return call('PUT', `/chats/${id}`, { title: `replaced ${i}`, isActive: i % 2 === 0 })
        case 3: return call('PATCH', `/chats/${id}`, { title: `guarded ${i}` }, { 'if-match': '"1"' })
        default: return i % 25 === 4 ? call('DELETE', `/chats/${id}`) : call('PATCH', `/chats/${id}`, { isActive: false })
      }
    })
    const answers = await Promise.all(writes)

    // Every answer is one the contract allows for that request; nothing failed inside.
    expect(answers.every((a) => [200, 201, 204, 404, 412].includes(a.status))).toBe(true)
    const created = answers.filter((a) => a.status === 201).length
    const deleted = answers.filter((a) => a.status === 204).length
    expect(created).toBe(200)
    expect(deleted).toBeGreaterThan(0)
    const store = memoryStore(server)
    await store.checkInvariants()
    expect(await store.count(DEFAULT_OWNER)).toBe(50 + created - deleted)
    const page = await call('GET', '/chats?limit=1')
    expect((page.body as { total: number }).total).toBe(50 + created - deleted)
    expect((await store.health()).bytes).toBeGreaterThan(0)
  })

  describe('the memory guard', () => {
    const title = 'ten chars!'
    const description = 'd'.repeat(10)
    const size = estimateBytes(title, description)

    it('refuses, as 507 problems, the creates that would pass the budget, also when they come at once', async () => {
      const server = await serve({ MAX_STORE_BYTES: size * 5 })
      const answers = await Promise.all(Array.from({ length: 12 }, () => call('POST', '/chats', { title, description })))
      expect(countBy(answers)).toEqual({ 201: 5, 507: 7 })
      const refused = answers.find((a) => a.status === 507)!
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      expect(refused.body).toMatchObject({ type: '/problems/capacity-exceeded', status: 507, title: 'Capacity exceeded' })
      expect(await server.store.health()).toMatchObject({ items: 5, bytes: size * 5, maxBytes: size * 5 })
      await memoryStore(server).checkInvariants()
    })

    it('keeps reads, shrinking updates and deletes working when full, and refuses what grows (like Redis noeviction)', async () => {
      // No history: a kept older version counts in the guard too, and the updates here must not grow.
      await serve({ MAX_STORE_BYTES: size * 3, HISTORY_VERSIONS: 0 })
      const chats = await Promise.all([1, 2, 3].map(async () => (await call('POST', '/chats', { title, description })).body as Chat))
      expect((await call('POST', '/chats', { title, description })).status).toBe(507)

      expect((await call('GET', `/chats/${chats[0]!.id}`)).status).toBe(200)
      expect((await call('GET', '/chats')).status).toBe(200)
      const grow = await call('PATCH', `/chats/${chats[0]!.id}`, { description: `${description}more` })
      expect(grow.status).toBe(507)
      expect(grow.body).toMatchObject({ type: '/problems/capacity-exceeded' })
      expect((await call('PATCH', `/chats/${chats[0]!.id}`, { description: '' })).status).toBe(200)
      expect((await call('PUT', `/chats/${chats[1]!.id}`, { title, description: 'd' })).status).toBe(200)
      expect((await call('PATCH', `/chats/${chats[2]!.id}`, { isActive: false })).status).toBe(200)
      expect((await call('DELETE', `/chats/${chats[2]!.id}`)).status).toBe(204)
      expect((await call('POST', '/chats', { title, description })).status).toBe(201)
    })
  })

  it('answers 503 with Retry-After when the store\'s lock cannot be had in LOCK_TIMEOUT_MS, and recovers', async () => {
    const server = await serve({ LOCK_TIMEOUT_MS: 50 })
    const created = (await call('POST', '/chats', { title: 'held' })).body as Chat
    // Hold the write lock as a long write would.
    const lock = Reflect.get(memoryStore(server), 'lock') as RwLock
    expect(lock.acquireWrite()).toBeUndefined()
    const [read, write] = await Promise.all([call('GET', `/chats/${created.id}`), call('PATCH', `/chats/${created.id}`, { title: 'late' })])
    for (const answer of [read, write]) {
      expect(answer.status).toBe(503)
      expect(answer.headers.get('retry-after')).toBe('1')
      expect(answer.body).toMatchObject({ type: '/problems/unavailable', status: 503 })
    }
    expect((await server.store.health()).lock?.timeouts).toBe(2)
    lock.releaseWrite()
    expect(await call('GET', `/chats/${created.id}`)).toMatchObject({ status: 200, body: { title: 'held', version: 1 } })
  })
})
