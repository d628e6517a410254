import { describe, expect, it } from 'vitest'
import { SORT_FIELDS, type ListQuery } from '../../../src/store/chat-store.js'
import type { IndexCapture } from '../../../src/store/memory/indexes.js'
import { indexImage } from '../../../src/store/memory/indexes.js'
import { MemoryChatStore, type Change, type ChatRecord } from '../../../src/store/memory/memory-store.js'

describe('saved indexes with the changes after them', () => {
  it('answers as the store does, dense words (bit sets) included, after creates, renames and deletes', async () => {
    let t = Date.UTC(2025, 0, 1)
    const tail: Change[] = []
    let logging = false
    const store = new MemoryChatStore({ maxItems: 100_000, maxBytes: 0, lockTimeoutMs: 60_000, now: () => t++, journal: { append: (c) => { if (logging) tail.push(c) } } })
    const ids: string[] = []
    for (let i = 0; i < 5000; i++) ids.push((await store.create({ title: `Common ${i % 13}`, description: i % 2 === 0 ? 'even words' : 'odd', priority: (['low', 'medium', 'high'] as const)[i % 3]! })).id)
    const cut: { chats: ChatRecord[], capture: IndexCapture } = await store.withAll((chats, image) => ({ chats: [...chats.values()], capture: image() }))
    logging = true
    for (let i = 0; i < 5000; i += 7) await store.update(ids[i]!, { title: `Renamed ${i}`, priority: 'high' })
    for (let i = 3; i < 5000; i += 11) await store.delete(ids[i]!)
    for (let i = 0; i < 300; i++) await store.create({ title: `Common late ${i}`, description: 'even newer' })
    const image = await indexImage(cut.capture)
    expect(image.text.dense.some((d) => d === 1)).toBe(true)
    const restored = new MemoryChatStore({ maxItems: 100_000, maxBytes: 0, lockTimeoutMs: 60_000 })
    restored.restoreImage(await store.withAll((chats) => new Map(chats)), image, tail)
    await restored.checkInvariants()
    const queries: ListQuery[] = [
      ...SORT_FIELDS.flatMap((field) => [false, true].map((descending) => ({ sort: [{ field, descending }], limit: 50, offset: 4000 }))),
      { q: 'common', limit: 20, offset: 4200 }, { q: 'even', limit: 20 }, { q: 'renamed', limit: 1000 }, { q: 'late', priority: ['medium'], limit: 1000 }
    ]
    for (const query of queries) {
      const [a, b] = [await store.list(query), await restored.list(query)]
      expect(b.items).toEqual(a.items)
      expect(b.total).toBe(a.total)
    }
    // Writes go on, reusing the holes the changes left.
    await restored.create({ title: 'after' })
    await restored.checkInvariants()
  })
})
