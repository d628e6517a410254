import { describe, expect, it } from 'vitest'
import { createMemoryStore, type MemoryStoreOptions } from '../../../src/store/memory/memory-store.js'
import { DEFAULT_OWNER } from '../../../src/store/types.js'

const makeStore = (options: Partial<MemoryStoreOptions> = {}) =>
  createMemoryStore({ maxItems: 10_000, maxBytes: 0, lockTimeoutMs: 60_000, ...options })

describe('memory store, list views', () => {
  it('answers a chat listed again with the same frozen object, and a new one after every write to it', async () => {
    const store = makeStore()
    const a = await store.create(DEFAULT_OWNER, { title: 'A' })
    await store.create(DEFAULT_OWNER, { title: 'B' })
    const first = (await store.list(DEFAULT_OWNER, { limit: 10 })).items
    const again = (await store.list(DEFAULT_OWNER, { limit: 10 })).items
    expect(again[0]).toBe(first[0])
    expect(again[1]).toBe(first[1])
    expect(Object.isFrozen(first[0])).toBe(true)
    await store.update(DEFAULT_OWNER, a.id, { title: 'A2' })
    const after = (await store.list(DEFAULT_OWNER, { limit: 10 })).items
    expect(after[0]).not.toBe(first[0])
    expect(after[0]).toMatchObject({ id: a.id, title: 'A2', version: 2 })
    expect(after[1]).toBe(first[1])
    await store.delete(DEFAULT_OWNER, a.id)
    expect((await store.list(DEFAULT_OWNER, { limit: 10 })).items).toEqual([first[1]])
  })

  it('keeps at most 1024 views: a chat listed long ago gets a new object', async () => {
    const store = makeStore({ maxItems: 2000 })
    for (let n = 0; n < 1100; n++) await store.create(DEFAULT_OWNER, { title: `Chat ${n}` })
    const first = (await store.list(DEFAULT_OWNER, { limit: 1 })).items[0]
    for (let offset = 0; offset < 1100; offset += 100) await store.list(DEFAULT_OWNER, { limit: 100, offset })
    const again = (await store.list(DEFAULT_OWNER, { limit: 1 })).items[0]
    expect(again).toEqual(first)
    expect(again).not.toBe(first)
  })
})
