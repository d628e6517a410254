import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { createRedisStore, type RedisStore } from '../../../src/store/redis/redis-store.js'
import type { ChangeEvent } from '../../../src/store/types.js'
import { deletePrefixes, LOCAL_REDIS_URL, uniquePrefix } from '../../support/redis.js'

// The Redis feed across processes: two store instances on one prefix stand for two replicas.
const prefixes: string[] = []
const stores: RedisStore[] = []

function twoReplicas (): [RedisStore, RedisStore] {
  const prefix = uniquePrefix('feed')
  prefixes.push(prefix)
  const make = (): RedisStore => createRedisStore({ url: LOCAL_REDIS_URL, commandTimeoutMs: 5000, keyPrefix: prefix, maxItems: 10_000, historyVersions: 5 })
  const pair: [RedisStore, RedisStore] = [make(), make()]
  stores.push(...pair)
  return pair
}

afterAll(async () => {
  for (const store of stores) await store.close()
  await deletePrefixes({ url: LOCAL_REDIS_URL }, prefixes)
})

async function until (what: string, done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('the Redis change feed across processes', () => {
  it('gives a subscriber on one instance the changes made through another, in seq order, each once', async () => {
    const [reader, writer] = twoReplicas()
    await reader.backend.connected()
    await writer.backend.connected()
    const seen: ChangeEvent[] = []
    const stop = reader.subscribe('alice', (e) => seen.push(e))
    const bob: ChangeEvent[] = []
    reader.subscribe('bob', (e) => bob.push(e))
    // A follow starts at the position it reads on the reader's connection: once a later read there
    // is back, the writer's changes (another connection) come after it.
    await reader.changes('alice', undefined, 0)
    const chat = await writer.create('alice', { title: 'a' })
    await writer.update('alice', chat.id, { title: 'b' })
    await Promise.all([writer.create('alice', { title: 'c' }), reader.create('alice', { title: 'd' })])
    await writer.delete('alice', chat.id)
    const page = await writer.changes('alice', undefined, 100)
    expect(page.items).toHaveLength(5)
    await until('five changes', () => seen.length >= 5)
    expect(seen).toEqual(page.items)
    expect(bob).toEqual([])
    stop()
    await writer.create('alice', { title: 'after' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(seen).toHaveLength(5)
  })

  it('misses none and repeats none when the subscriber connection is killed and reconnects', async () => {
    const [reader, writer] = twoReplicas()
    await reader.backend.connected()
    await writer.backend.connected()
    const seen: ChangeEvent[] = []
    reader.subscribe('carol', (e) => seen.push(e))
    await reader.changes('carol', undefined, 0) // the follow's position read is done (see above)
    const chat = await writer.create('carol', { title: 'v1' })
    await until('the first change', () => seen.length >= 1)
    const sub = reader.backend.feed.connection as Redis
    const ready = new Promise<void>((resolve) => { sub.once('ready', () => { resolve() }) })
    // Killed on the server: pub/sub drops what is published until the connection is back.
    const admin = new Redis(LOCAL_REDIS_URL)
    try {
      const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
      const line = clients.split('\n').find((l) => l.includes(`name=${sub.options.connectionName!} `))
      expect(line).toBeDefined()
      const id = /\bid=(\d+)/.exec(line!)![1]!
      for (let i = 2; i <= 6; i++) await writer.update('carol', chat.id, { title: `v${i}` })
      await admin.call('CLIENT', 'KILL', 'ID', id)
      for (let i = 7; i <= 11; i++) await writer.update('carol', chat.id, { title: `v${i}` })
    } finally {
      admin.disconnect()
    }
    await ready
    for (let i = 12; i <= 14; i++) await writer.update('carol', chat.id, { title: `v${i}` })
    await until('fourteen changes', () => seen.length >= 14)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const page = await writer.changes('carol', undefined, 100)
    expect(seen.map((e) => e.version)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1))
    expect(seen).toEqual(page.items)
  })

  it('answers a replay of a create made through another instance', async () => {
    const [a, b] = twoReplicas()
    const once = { key: 'k {with braces}', fingerprint: 'f' }
    const first = await a.createOnce('dave', { title: 'x' }, once)
    expect(await b.createOnce('dave', { title: 'x' }, once)).toEqual({ chat: first.chat, replayed: true })
    const history = await b.history('dave', first.chat.id, { limit: 10 })
    expect(history.items.map((h) => h.version)).toEqual([1])
  })
})

