import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { StoreError } from '../../../src/store/errors.js'
import { CursorCodec, fingerprintOf } from '../../../src/store/memory/cursor.js'
import { storeErrorOf } from '../../../src/store/redis/connection.js'
import { createRedisStore, type RedisStore } from '../../../src/store/redis/redis-store.js'
import { PRIORITIES, SORT_FIELDS, type Chat, type ListQuery, type Priority, type SortKey } from '../../../src/store/types.js'
import { naiveList } from '../memory/naive.js'
import { deletePrefixes, LOCAL_REDIS_URL, uniquePrefix } from '../../support/redis.js'
import { startRedis } from '../../support/redis-cluster.js'

const prefixes: string[] = []
const stores: RedisStore[] = []
const admin = new Redis(LOCAL_REDIS_URL)

function open (options: Partial<Parameters<typeof createRedisStore>[0]> = {}): RedisStore {
  const keyPrefix = options.keyPrefix ?? uniquePrefix('unit')
  if (!prefixes.includes(keyPrefix)) prefixes.push(keyPrefix)
  const store = createRedisStore({ url: LOCAL_REDIS_URL, commandTimeoutMs: 5000, maxItems: 100_000, ...options, keyPrefix })
  stores.push(store)
  return store
}

afterAll(async () => {
  for (const store of stores) await store.close()
  await deletePrefixes({ url: LOCAL_REDIS_URL }, prefixes)
  admin.disconnect()
})

async function codeOf (call: Promise<unknown>): Promise<string | undefined> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  return err instanceof StoreError ? err.code : String(err)
}

describe('the Redis backend, beyond the common suite', () => {
  it('answers lists over hundreds of chats with long runs of equal keys as the naive reference does, by offset and by cursor', async () => {
    // Runs of one priority (about 300) are longer than the list script reads at a time (256), in both directions.
    let t = Date.UTC(2025, 0, 1)
    const store = open({ now: () => t })
    const chats = new Map<string, Chat>()
    const rng = fc.sample(fc.tuple(fc.nat(5), fc.nat(2), fc.boolean(), fc.nat(3), fc.nat(2)), { numRuns: 900, seed: 7 })
    for (const [title, priority, isActive, words, tick] of rng) {
      t += tick
      const chat = await store.create('big', {
        title: ['alpha', 'Beta', 'beta', 'Gamma ray', 'gamma', 'Ωmega'][title]!,
        description: ['', 'project update', 'café notes', 'updates'][words]!,
        priority: PRIORITIES[priority]!,
        isActive
      })
      chats.set(chat.id, chat)
    }
    // Another owner's chats are never met.
    for (let i = 0; i < 20; i++) await store.create('other', { title: 'alpha' })
    for (const chat of [...chats.values()].slice(0, 200)) {
      if (chat.title === 'alpha') chats.set(chat.id, await store.update('big', chat.id, { priority: 'high', title: 'Alpha' }))
      if (chat.title === 'gamma') { await store.delete('big', chat.id); chats.delete(chat.id) }
    }
    const sorts: SortKey[][] = [
      [{ field: 'createdAt', descending: true }],
      [{ field: 'priority', descending: false }],
      [{ field: 'priority', descending: true }],
      [{ field: 'title', descending: true }],
      [{ field: 'priority', descending: true }, { field: 'title', descending: false }],
      [{ field: 'title', descending: true }, { field: 'updatedAt', descending: true }],
      [{ field: 'title', descending: false }],
      [{ field: 'updatedAt', descending: false }, { field: 'priority', descending: true }, { field: 'createdAt', descending: false }],
      SORT_FIELDS.map((field) => ({ field, descending: false }))
    ]
    const filters: Partial<ListQuery>[] = [{}, { isActive: true }, { priority: ['low', 'high'] }, { q: 'upd' }, { q: 'gam', isActive: false },
      { createdFrom: Date.UTC(2025, 0, 1) + 100, createdTo: Date.UTC(2025, 0, 1) + 600 }, { priority: ['medium'], q: 'cafe', createdFrom: Date.UTC(2025, 0, 1) + 50 }]
    for (const sort of sorts) {
      for (const filter of filters) {
        const query: ListQuery = { ...filter, sort, limit: 100 }
        const expected = naiveList(chats.values(), query).map((c) => c.id)
        for (const offset of [37, 401]) {
          const first = await store.list('big', { ...query, offset })
          expect(first.items.map((c) => c.id)).toEqual(expected.slice(offset, offset + 100))
          expect(first.total).toBe(expected.length)
        }
        const seen: string[] = []
        let cursor: string | undefined
        do {
          const page = await store.list('big', { ...query, ...(cursor === undefined ? { offset: 0 } : { cursor }) })
          expect(page.total).toBe(expected.length)
          seen.push(...page.items.map((c) => c.id))
          cursor = page.nextCursor ?? undefined
        } while (cursor !== undefined)
        expect(seen).toEqual(expected)
      }
    }
  })

  it('answers every command of a turn, in order, also past the commands one write holds (turnBatcher)', async () => {
    const store = open()
    const made = await Promise.all(Array.from({ length: 37 }, async (_, i) => await store.create('turn', { title: `chat ${i}` })))
    expect(made.map((c) => c.title)).toEqual(Array.from({ length: 37 }, (_, i) => `chat ${i}`))
    const read = await Promise.all(made.map(async (c) => await store.get('turn', c.id)))
    expect(read).toEqual(made)
    expect(await store.count('turn')).toBe(37)
  })

  it('takes createdFrom and createdTo that are not whole milliseconds as the memory backend does', async () => {
    let t = 1000
    const store = open({ now: () => t })
    const chats: Chat[] = []
    for (let i = 0; i < 4; i++) { chats.push(await store.create('o', { title: `c${i}` })); t++ }
    const query: ListQuery = { limit: 10, createdFrom: 1000.5, createdTo: 1002.5 }
    expect((await store.list('o', query)).items.map((c) => c.id)).toEqual(naiveList(chats, query).map((c) => c.id))
    expect((await store.list('o', { ...query, isActive: true })).total).toBe(2)
  })

  it('answers a page again from its cache only while the owner made no write, through any process on the prefix', async () => {
    const a = open()
    const b = open({ keyPrefix: prefixes.at(-1)! })
    const query: ListQuery = { limit: 10, q: 'plan', isActive: true, sort: [{ field: 'createdAt', descending: true }] }
    const first = await a.create('pat', { title: 'Plan one', isActive: true })
    await a.create('someone else', { title: 'Plan theirs', isActive: true })
    const ids = async (): Promise<string[]> => (await a.list('pat', query)).items.map((c) => c.id)
    expect(await ids()).toEqual([first.id])
    // A caller that changes the page it got does not change the next answer.
    const page = await a.list('pat', query)
    page.items.length = 0
    expect(await a.list('pat', query)).toMatchObject({ total: 1, items: [{ id: first.id }] })
    // Writes through the other process: a create, an update, a delete; each is seen at once.
    const second = await b.create('pat', { title: 'Plan two', isActive: true })
    expect(await ids()).toEqual([second.id, first.id])
    await b.update('pat', first.id, { isActive: false })
    expect(await ids()).toEqual([second.id])
    await b.delete('pat', second.id)
    expect(await a.list('pat', query)).toMatchObject({ total: 0, items: [] })
    // Another owner's write leaves the page as it was; a change behind the scripts' back (not a
    // write of the service) is not seen while the page is cached: the cache follows the owner's seq.
    const third = await b.create('pat', { title: 'Plan three', isActive: true })
    expect(await ids()).toEqual([third.id])
    await b.create('someone else', { title: 'Plan again', isActive: true })
    expect(await ids()).toEqual([third.id])
    await admin.hset(`${a.backend.keys.base('pat')}:chat:${third.id}`, 't', 'Edited by hand')
    expect((await a.list('pat', query)).items[0]!.title).toBe('Plan three')
    expect((await b.list('pat', query)).items[0]!.title).toBe('Edited by hand')
  })

  it('keeps every key of an owner under one exact tag, also for owners with braces', async () => {
    const store = open()
    const owners = ['{x}', '}', 'a{b}c', '{', 'plain', 'ü{}']
    for (const owner of owners) await store.create(owner, { title: `chat of ${owner}`, description: 'shared word' })
    for (const owner of owners) {
      const page = await store.list(owner, { limit: 10, q: 'shared' })
      expect(page.items.map((c) => c.title)).toEqual([`chat of ${owner}`])
      expect(await store.count(owner)).toBe(1)
    }
    const keys = await admin.keys(`${store.backend.keys.prefix}:*`)
    const tags = new Set<string>()
    for (const key of keys) {
      // The two keys of the whole prefix: the MAX_ITEMS count and the shared cursor key.
      if (key === store.backend.keys.items || key === store.backend.keys.cursorSecret) continue
      const tag = /^[^{}]+:\{([A-Za-z0-9_-]+)\}:[^{}]+$/.exec(key)
      expect(tag, key).not.toBeNull()
      tags.add(Buffer.from(tag![1]!, 'base64url').toString('utf8'))
    }
    expect([...tags].sort()).toEqual([...owners].sort())
  })

  it('keeps writing after SCRIPT FLUSH (EVALSHA falls back to EVAL on NOSCRIPT)', async () => {
    const store = open()
    const chat = await store.create('o', { title: 'one' })
    await admin.script('FLUSH')
    expect((await store.update('o', chat.id, { title: 'two' })).version).toBe(2)
    await admin.script('FLUSH')
    const other = await store.create('o', { title: 'three' })
    await admin.script('FLUSH')
    expect((await store.list('o', { limit: 10, sort: [{ field: 'title', descending: false }] })).items.map((c) => c.title)).toEqual(['three', 'two'])
    await admin.script('FLUSH')
    await store.delete('o', other.id)
    expect(await store.count('o')).toBe(1)
  })

  it('holds MAX_ITEMS across two processes on one prefix, never one over, and gives places back on a quota refusal and a delete', async () => {
    const keyPrefix = uniquePrefix('shared')
    const one = open({ keyPrefix, maxItems: 100 })
    const two = open({ keyPrefix, maxItems: 100 })
    const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? one : two).create(`owner${i % 7}`, { title: `c${i}` })))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100)
    expect((await one.health()).items).toBe(100)

    const small = uniquePrefix('quota')
    const a = open({ keyPrefix: small, maxItems: 5, maxItemsPerOwner: 2 })
    const b = open({ keyPrefix: small, maxItems: 5, maxItemsPerOwner: 2 })
    await a.create('alice', { title: '1' })
    const second = await b.create('alice', { title: '2' })
    await expect(a.create('alice', { title: '3' })).rejects.toMatchObject({ code: 'capacity', message: expect.stringMatching(/quota of 2/) as unknown })
    await b.create('bob', { title: '1' })
    await b.create('bob', { title: '2' })
    await a.create('carol', { title: '1' })
    expect((await a.health()).items).toBe(5)
    await expect(a.create('dave', { title: '1' })).rejects.toMatchObject({ code: 'capacity', message: expect.stringMatching(/maximum of 5/) as unknown })
    await a.delete('alice', second.id)
    await b.create('dave', { title: '1' })
    expect((await b.health()).items).toBe(5)
  })

  it('reconciles a global count left high (a process that died between the reservation and the create), and drops the descending indexes of older versions', async () => {
    const store = open({ maxItems: 10 })
    await store.create('a', { title: 'x' })
    await store.create('b', { title: 'y' })
    await admin.incrby(store.backend.keys.items, 3)
    const base = store.backend.keys.base('a')
    const old = ['cd', 'ud', 'pd', 'td'].map((z) => `${base}:z:${z}`)
    for (const key of old) await admin.zadd(key, 0, 'stale')
    expect((await store.health()).items).toBe(5)
    expect(await store.backend.reconcileItems()).toEqual({ before: 5, after: 2, dropped: 4 })
    expect((await store.health()).items).toBe(2)
    expect(await admin.exists(...old)).toBe(0)
    expect(await admin.zcard(`${base}:z:ca`)).toBe(1)
    expect((await store.list('a', { limit: 10, sort: [{ field: 'title', descending: true }] })).items.map((c) => c.title)).toEqual(['x'])
  })

  it('refuses a cursor that was signed by this store but does not fit the sort', async () => {
    const key = Buffer.alloc(32, 1)
    const store = open({ cursorKey: key })
    await store.create('o', { title: 'x' })
    const codec = new CursorCodec(key)
    const fingerprint = fingerprintOf({ o: 'o', p: null, a: null, f: null, t: null, q: null, s: ['title'] })
    for (const tuple of [[1, 'not-an-id'], ['a\u0000b', '01a24e14-61a7-726c-8261-b36b8b45c8b7'], ['a']]) {
      const err = await store.list('o', { limit: 1, sort: [{ field: 'title', descending: false }], cursor: codec.encode(fingerprint, tuple) }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'invalid', fields: [{ field: '/cursor', message: 'does not fit this sort' }] })
    }
  })

  it('answers unavailable when fewer replicas than REDIS_WAIT_REPLICAS acknowledge a write, which the primary applied', async () => {
    const store = open({ waitReplicas: 1, commandTimeoutMs: 400 })
    const err = await store.create('o', { title: 'x' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1, message: expect.stringMatching(/applied on the Redis primary, but 0 of the 1 replicas/) as unknown })
    expect(await store.count('o')).toBe(1)
    const [chat] = (await store.list('o', { limit: 1 })).items
    expect(await codeOf(store.update('o', chat!.id, { title: 'y' }))).toBe('unavailable')
    expect((await store.get('o', chat!.id))?.version).toBe(2)
    // A refusal is a refusal, whatever the replicas say.
    expect(await codeOf(store.update('o', chat!.id, { title: 'z' }, { ifVersion: [1] }))).toBe('versionMismatch')
  })

  it('checks again in the script what the rules checked in JS; a script refusal gives the reservation back', async () => {
    const store = open({ maxItems: 1 })
    const backend = store.backend
    const bad = { title: 'x', description: '', priority: 'urgent' as Priority, isActive: true }
    await expect(backend.create('o', bad)).rejects.toMatchObject({ name: 'ReplyError', message: expect.stringMatching(/invalid priority/) as unknown })
    expect((await store.health()).items).toBe(0)
    const chat = await store.create('o', { title: 'fits' })
    await expect(backend.update('o', chat.id, { priority: 'urgent' as Priority }, {})).rejects.toMatchObject({ name: 'ReplyError' })
    expect(await store.get('o', chat.id)).toEqual(chat)
  })

  it('refuses an id generator that makes no UUIDv7 before reserving, and answers unavailable once closed', async () => {
    const store = open({ ids: () => 'short', maxItems: 1 })
    await expect(store.create('o', { title: 'x' })).rejects.toThrow(/not a UUIDv7/)
    expect((await store.health()).items).toBe(0)
    await store.close()
    expect(await store.health()).toMatchObject({ ready: false, detail: 'The store is closed' })
    expect(await codeOf(store.get('o', 'x'))).toBe('unavailable')
    expect(await codeOf(store.create('o', { title: 'x' }))).toBe('unavailable')
  })

  it('maps Redis failures to the store\'s errors', () => {
    const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' })
    expect(storeErrorOf(reply('OOM command not allowed when used memory > \'maxmemory\'.'))).toMatchObject({ code: 'capacity' })
    expect(storeErrorOf(reply('CLUSTERDOWN The cluster is down'))).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 })
    expect(storeErrorOf(new Error('Connection is closed.'))).toMatchObject({ code: 'unavailable' })
    const bug = reply('ERR user_script:1: Script attempted to access nonexistent global variable')
    expect(storeErrorOf(bug)).toBe(bug)
    expect(storeErrorOf('odd')).toBe('odd')
  })

  it('refuses writes when Redis is out of memory (507), and still deletes', async () => {
    // A Redis of its own: the machine's Redis is shared with other tests.
    const own = await startRedis()
    const store = open({ url: own.url })
    const client = new Redis(own.url)
    try {
      const chat = await store.create('o', { title: 'x' })
      const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1])
      await client.config('SET', 'maxmemory', String(Math.max(1, used - 100_000)))
      expect(await codeOf(store.create('o', { title: 'y' }))).toBe('capacity')
      expect(await codeOf(store.update('o', chat.id, { title: 'z' }))).toBe('capacity')
      expect((await store.get('o', chat.id))?.title).toBe('x')
      await store.delete('o', chat.id)
      expect(await store.count('o')).toBe(0)
      await client.config('SET', 'maxmemory', '0')
      expect((await store.health()).items).toBe(0)
    } finally {
      client.disconnect()
      await store.close()
      await own.stop()
    }
  })
})
