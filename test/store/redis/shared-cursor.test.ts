import { afterAll, describe, expect, it } from 'vitest'
import { createRedisStore, type RedisStore } from '../../../src/store/redis/redis-store.js'
import { deletePrefixes, LOCAL_REDIS_URL, uniquePrefix } from '../../support/redis.js'

const prefix = uniquePrefix('cursor')
const stores: RedisStore[] = []
const open = (cursorKey?: Buffer): RedisStore => {
  const store = createRedisStore({ url: LOCAL_REDIS_URL, commandTimeoutMs: 5000, maxItems: 1000, keyPrefix: prefix, ...(cursorKey === undefined ? {} : { cursorKey }) })
  stores.push(store)
  return store
}
afterAll(async () => {
  for (const store of stores) await store.close()
  await deletePrefixes({ url: LOCAL_REDIS_URL }, [prefix])
})

describe('cursors across processes on one Redis', () => {
  it('without CURSOR_SECRET, every store on the prefix signs with the key kept in Redis: a cursor of one is good on another', async () => {
    const a = open()
    const b = open()
    await Promise.all([a.backend.connected(), b.backend.connected()])
    for (let i = 0; i < 3; i++) await a.create('alice', { title: `chat ${i}` })
    const first = await a.list('alice', { limit: 2, sort: [{ field: 'createdAt', descending: false }] })
    expect(first.nextCursor).toEqual(expect.any(String))
    const second = await b.list('alice', { limit: 2, sort: [{ field: 'createdAt', descending: false }], cursor: first.nextCursor! })
    expect(second.items.map((c) => c.title)).toEqual(['chat 2'])
  })

  it('with a configured key, a cursor signed with another key is refused', async () => {
    const a = open(Buffer.from('one secret'))
    const b = open(Buffer.from('another secret'))
    await Promise.all([a.backend.connected(), b.backend.connected()])
    await a.create('bob', { title: 'x' })
    await a.create('bob', { title: 'y' })
    const first = await a.list('bob', { limit: 1, sort: [{ field: 'createdAt', descending: false }] })
    await expect(b.list('bob', { limit: 1, sort: [{ field: 'createdAt', descending: false }], cursor: first.nextCursor! })).rejects.toMatchObject({ code: 'invalid' })
  })
})
