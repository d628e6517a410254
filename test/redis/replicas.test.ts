import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Chat } from '../../src/store/types.js'
import { buildService, ServiceProcess } from '../support/service-process.js'
import { redisTargets } from './targets.js'

/**
 * Several service processes on one Redis (a single node, and a Redis Cluster of three primaries with
 * replicas), each on its own port, as replicas behind a load balancer are: what one replica writes
 * the others read at once, and the limits hold across them.
 */
beforeAll(buildService, 120_000)

const json = { 'content-type': 'application/json' }

for (const target of redisTargets()) {
  describe(`replicas on ${target.name}`, () => {
    let services: ServiceProcess[] = []
    let prefix = ''

    const start = async (count: number, env: Record<string, string> = {}): Promise<ServiceProcess[]> => {
      await target.ready()
      prefix = `test-replicas-${randomUUID().slice(0, 8)}`
      services = await Promise.all(Array.from({ length: count }, async () => await ServiceProcess.start({
        STORE: 'redis', ...target.env(), REDIS_KEY_PREFIX: prefix, CURSOR_SECRET: 'replicas-share-this-secret',
        // Limits no test here reaches, but the one about them.
        RATE_LIMIT_READ_MAX: '1000000', RATE_LIMIT_WRITE_MAX: '1000000', ...env
      })))
      return services
    }
    afterEach(async () => {
      await Promise.all(services.map(async (service) => { await service.stop() }))
      services = []
      if (prefix !== '') await target.removeKeys(prefix)
    })
    afterAll(async () => { await target.stop?.() })

    it('reads on one replica what another wrote, at once: a create, a patch, a delete, a list', async () => {
      const [a, b] = await start(2)
      const created = await fetch(`${a!.base}/chats`, { method: 'POST', headers: json, body: JSON.stringify({ title: 'from a', priority: 'high' }) })
      expect(created.status).toBe(201)
      const chat = await created.json() as Chat
      const read = await fetch(`${b!.base}/chats/${chat.id}`)
      expect(read.status).toBe(200)
      expect(await read.json()).toEqual(chat)

      const patched = await fetch(`${b!.base}/chats/${chat.id}`, { method: 'PATCH', headers: { ...json, 'if-match': '"1"' }, body: JSON.stringify({ title: 'from b' }) })
      expect(patched.status).toBe(200)
      const again = await fetch(`${a!.base}/chats/${chat.id}`)
      expect((await again.json() as Chat).title).toBe('from b')

      const page = await (await fetch(`${a!.base}/chats?q=from&priority=high&limit=5`)).json() as { items: Chat[], total: number, nextCursor: string | null }
      expect(page.total).toBe(1)
      expect(page.items.map((c) => c.id)).toEqual([chat.id])

      // A cursor made by one replica is good on another (the same CURSOR_SECRET).
      for (let i = 0; i < 3; i++) await fetch(`${a!.base}/chats`, { method: 'POST', headers: json, body: JSON.stringify({ title: `more ${i}` }) })
      const first = await (await fetch(`${a!.base}/chats?limit=2&sort=createdAt`)).json() as { items: Chat[], nextCursor: string }
      const second = await fetch(`${b!.base}/chats?limit=2&sort=createdAt&cursor=${encodeURIComponent(first.nextCursor)}`)
      expect(second.status).toBe(200)
      const rest = (await second.json() as { items: Chat[] }).items
      expect(rest).toHaveLength(2)
      expect(rest.map((c) => c.id)).not.toContain(first.items[0]!.id)

      expect((await fetch(`${a!.base}/chats/${chat.id}`, { method: 'DELETE' })).status).toBe(204)
      expect((await fetch(`${b!.base}/chats/${chat.id}`)).status).toBe(404)
    })

    it('gives exactly one 200 to 200 concurrent PATCHes with one If-Match spread over the replicas', async () => {
      const replicas = await start(2)
      const created = await (await fetch(`${replicas[0]!.base}/chats`, { method: 'POST', headers: json, body: JSON.stringify({ title: 'contended' }) })).json() as Chat
      const answers = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${replicas[i % replicas.length]!.base}/chats/${created.id}`, {
          method: 'PATCH', headers: { ...json, 'if-match': '"1"' }, body: JSON.stringify({ title: `writer ${i}` })
        })
        return res.status
      }))
      expect(answers.filter((s) => s === 200)).toHaveLength(1)
      expect(answers.filter((s) => s === 412)).toHaveLength(199)
      const final = await (await fetch(`${replicas[1]!.base}/chats/${created.id}`)).json() as Chat
      expect(final.version).toBe(2)
    })

    it('stores exactly MAX_ITEMS chats when 500 concurrent creates at a cap of 100 are spread over the replicas', async () => {
      const replicas = await start(3, { MAX_ITEMS: '100' })
      const answers = await Promise.all(Array.from({ length: 500 }, async (_, i) => {
        const res = await fetch(`${replicas[i % replicas.length]!.base}/chats`, { method: 'POST', headers: json, body: JSON.stringify({ title: `chat ${i}` }) })
        return res.status
      }))
      expect(answers.filter((s) => s === 201)).toHaveLength(100)
      expect(answers.filter((s) => s === 507)).toHaveLength(400)
      const page = await (await fetch(`${replicas[2]!.base}/chats?limit=1`)).json() as { total: number }
      expect(page.total).toBe(100)
    })

    it('holds MAX_ITEMS_PER_OWNER across the replicas under concurrent creates', async () => {
      const replicas = await start(2, { MAX_ITEMS_PER_OWNER: '30' })
      const answers = await Promise.all(Array.from({ length: 120 }, async (_, i) => {
        const res = await fetch(`${replicas[i % replicas.length]!.base}/chats`, { method: 'POST', headers: json, body: JSON.stringify({ title: `chat ${i}` }) })
        return res.status
      }))
      expect(answers.filter((s) => s === 201)).toHaveLength(30)
      expect(answers.filter((s) => s === 507)).toHaveLength(90)
    })

    it('counts one rate limit for all the replicas', async () => {
      const replicas = await start(2, { RATE_LIMIT_WRITE_MAX: '10', RATE_LIMIT_READ_MAX: '1000', RATE_LIMIT_WINDOW_MS: '60000' })
      const answers: number[] = []
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${replicas[i % 2]!.base}/chats`, { method: 'POST', headers: json, body: JSON.stringify({ title: `chat ${i}` }) })
        answers.push(res.status)
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      }
      expect(answers.filter((s) => s === 201)).toHaveLength(10)
      expect(answers.filter((s) => s === 429)).toHaveLength(10)
      // Reads are counted apart.
      expect((await fetch(`${replicas[1]!.base}/chats?limit=1`)).status).toBe(200)
    })
  })
}
