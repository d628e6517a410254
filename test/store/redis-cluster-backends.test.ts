import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeBackend } from './backend-suite.js'
import { describeNaiveModel } from './naive-model.js'
import { createRedisStore } from '../../src/store/redis/redis-store.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { deletePrefixes, redisStores, uniquePrefix } from '../support/redis.js'
import { startCluster, type TestCluster } from '../support/redis-cluster.js'

// The one suite (backends.test.ts) on the Redis backend over a Redis Cluster of 3 primaries and 3
// replicas of its own; once with reads from the primaries, once from the replicas.
let cluster: TestCluster | undefined
const nodes: { host: string, port: number }[] = []
const primaries = redisStores({ clusterNodes: nodes })
const replicas = redisStores({ clusterNodes: nodes, readFromReplicas: true }, { waitReplicas: 1 })

beforeAll(async () => {
  cluster = await startCluster()
  nodes.push(...cluster.nodes)
}, 60_000)

afterAll(async () => {
  await primaries.cleanup()
  await replicas.cleanup()
  await cluster?.stop()
})

describeBackend('redis-cluster', primaries.make, { memoryGuard: false })
describeNaiveModel('redis-cluster', primaries.make)
describe('with reads from replicas and WAIT 1 after each write', () => {
  describeBackend('redis-cluster-replicas', replicas.make, { memoryGuard: false })
  describeNaiveModel('redis-cluster-replicas', replicas.make)
})

describe('the Redis backend on a cluster', () => {
  const node = (port: number): Redis => new Redis({ host: '127.0.0.1', port })

  it('keeps each owner\'s keys in one slot, spreads owners over the primaries, and writes on after SCRIPT FLUSH on every node', async () => {
    const store = await primaries.make()
    const owners = Array.from({ length: 12 }, (_, i) => `owner-${i}-{${i}}`)
    const chats = await Promise.all(owners.map(async (owner) => await store.create(owner, { title: `chat of ${owner}`, description: 'words here' })))
    const slotsByOwner = new Map<string, Set<number>>()
    const ownersByPrimary = new Map<number, number>()
    for (const { port } of cluster!.nodes) {
      const client = node(port)
      try {
        const role = (await client.info('replication')).includes('role:master')
        if (!role) continue
        const keys = await client.keys(`${store.backend.keys.prefix}:{*`)
        for (const key of keys) {
          const tag = /\{([^}]+)\}/.exec(key)![1]!
          const owner = Buffer.from(tag, 'base64url').toString('utf8')
          const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key))
          let slots = slotsByOwner.get(owner)
          if (slots === undefined) {
            slotsByOwner.set(owner, slots = new Set())
            ownersByPrimary.set(port, (ownersByPrimary.get(port) ?? 0) + 1)
          }
          slots.add(slot)
        }
        await client.script('FLUSH')
      } finally {
        client.disconnect()
      }
    }
    expect([...slotsByOwner.keys()].sort()).toEqual([...owners].sort())
    for (const slots of slotsByOwner.values()) expect(slots.size).toBe(1)
    expect(ownersByPrimary.size).toBeGreaterThan(1)
    for (const [i, owner] of owners.entries()) {
      expect((await store.update(owner, chats[i]!.id, { title: 'renamed' })).version).toBe(2)
      expect((await store.list(owner, { limit: 5, q: 'renam' })).total).toBe(1)
    }
  })

  it('gives a subscriber on one instance the changes made through another, for owners on every primary (sharded pub/sub)', async () => {
    const prefix = uniquePrefix('feed')
    const make = () => createRedisStore({ clusterNodes: nodes, commandTimeoutMs: 5000, keyPrefix: prefix, maxItems: 10_000 })
    const reader = make()
    const writer = make()
    try {
      await reader.backend.connected()
      await writer.backend.connected()
      const owners = Array.from({ length: 6 }, (_, i) => `follower-${i}`)
      const seen = new Map<string, ChangeEvent[]>(owners.map((o) => [o, []]))
      for (const owner of owners) reader.subscribe(owner, (e) => seen.get(owner)!.push(e))
      // A follow starts at the position it reads on the reader's connection; a read there that
      // comes back has come after it. Without this, the writer's first create (another process,
      // another connection) could reach Redis before that position and rightly not be followed.
      for (const owner of owners) await reader.changes(owner, undefined, 0)
      for (const owner of owners) {
        const chat = await writer.create(owner, { title: 'a' })
        await writer.update(owner, chat.id, { title: 'b' })
        await writer.delete(owner, chat.id)
      }
      const end = Date.now() + 5000
      while ([...seen.values()].some((list) => list.length < 3) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20))
      for (const owner of owners) expect(seen.get(owner)).toEqual((await writer.changes(owner, undefined, 10)).items)
    } finally {
      await reader.close()
      await writer.close()
      await deletePrefixes({ clusterNodes: nodes }, [prefix])
    }
  })

  it('reconciles the MAX_ITEMS count from every primary', async () => {
    const store = await primaries.make()
    for (let i = 0; i < 9; i++) await store.create(`owner-${i}`, { title: 'x' })
    // As if four creates had died between their reservation and their script.
    await store.backend.client.incrby(store.backend.keys.items, 4)
    expect((await store.health()).items).toBe(13)
    expect(await store.backend.reconcileItems()).toEqual({ before: 13, after: 9, dropped: 0 })
  })

  it('sends reads to the replicas with REDIS_READ_FROM_REPLICAS', async () => {
    const store = await replicas.make()
    const chat = await store.create('reader', { title: 'read me' })
    const calls = async (): Promise<number> => {
      let n = 0
      for (const { port } of cluster!.nodes) {
        const client = node(port)
        try {
          if ((await client.info('replication')).includes('role:slave')) {
            for (const m of (await client.info('commandstats')).matchAll(/cmdstat_(?:hmget|evalsha|eval|zcard):calls=(\d+)/g)) n += Number(m[1])
          }
        } finally {
          client.disconnect()
        }
      }
      return n
    }
    const before = await calls()
    for (let i = 0; i < 5; i++) {
      expect(await store.get('reader', chat.id)).toEqual(chat)
      expect((await store.list('reader', { limit: 5 })).total).toBe(1)
      expect(await store.count('reader')).toBe(1)
    }
    expect(await calls()).toBeGreaterThanOrEqual(before + 15)
  })
})
