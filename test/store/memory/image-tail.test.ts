import { describe, expect, it } from 'vitest'
import { DEFAULT_OWNER, SORT_FIELDS, type ListQuery } from '../../../src/store/types.js'
import type { IndexCapture } from '../../../src/store/memory/index-image.js'
import { indexImage } from '../../../src/store/memory/index-image.js'
import { createMemoryStore } from '../../../src/store/memory/memory-store.js'
import type { Change, ChatRecord } from '../../../src/store/records.js'

describe('saved indexes with the changes after them', () => {
  it('answers as the store does, dense words (bit sets) included, after creates, renames and deletes', async () => {
    let t = Date.UTC(2025, 0, 1)
    const tail: Change[] = []
    let logging = false
    const store = createMemoryStore({ maxItems: 100_000, maxBytes: 0, lockTimeoutMs: 60_000, now: () => t++, journal: { append: (c) => { if (logging) tail.push(c) } } })
    const ids: string[] = []
    for (let i = 0; i < 5000; i++) ids.push((await store.create(DEFAULT_OWNER, { title: `Common ${i % 13}`, description: i % 2 === 0 ? 'even words' : 'odd', priority: (['low', 'medium', 'high'] as const)[i % 3]! })).id)
    const cut: { chats: ChatRecord[], capture: IndexCapture } = await store.backend.withAll((chats, image) => ({ chats: [...chats.values()], capture: image()! }))
    logging = true
    for (let i = 0; i < 5000; i += 7) await store.update(DEFAULT_OWNER, ids[i]!, { title: `Renamed ${i}`, priority: 'high' })
    for (let i = 3; i < 5000; i += 11) await store.delete(DEFAULT_OWNER, ids[i]!)
    for (let i = 0; i < 300; i++) await store.create(DEFAULT_OWNER, { title: `Common late ${i}`, description: 'even newer' })
    const image = await indexImage(cut.capture)
    expect(image.text.dense.some((d) => d === 1)).toBe(true)
    const restored = createMemoryStore({ maxItems: 100_000, maxBytes: 0, lockTimeoutMs: 60_000 })
    restored.backend.restoreImage(image, tail)
    await restored.backend.checkInvariants()
    expect(await restored.backend.withAll((chats) => chats)).toEqual(await store.backend.withAll((chats) => chats))
    const queries: ListQuery[] = [
      ...SORT_FIELDS.flatMap((field) => [false, true].map((descending) => ({ sort: [{ field, descending }], limit: 50, offset: 4000 }))),
      { q: 'common', limit: 20, offset: 4200 }, { q: 'even', limit: 20 }, { q: 'renamed', limit: 1000 }, { q: 'late', priority: ['medium'], limit: 1000 }
    ]
    for (const query of queries) {
      const [a, b] = [await store.list(DEFAULT_OWNER, query), await restored.list(DEFAULT_OWNER, query)]
      expect(b.items).toEqual(a.items)
      expect(b.total).toBe(a.total)
    }
    // Writes go on, reusing the holes the changes left.
    await restored.create(DEFAULT_OWNER, { title: 'after' })
    await restored.backend.checkInvariants()
  })
})

describe('saved indexes with a log as long as the snapshot', () => {
  it('merged, answer as a build of the same chats does: every order, ties, non-ASCII titles, words', async () => {
    let t = Date.UTC(2025, 0, 1)
    const tail: Change[] = []
    let logging = false
    const options = { maxItems: 100_000, maxBytes: 0, lockTimeoutMs: 60_000 }
    const store = createMemoryStore({ ...options, now: () => t++, journal: { append: (c) => { if (logging) tail.push(c) } } })
    // Titles that tie, that differ only in case, and that start with characters past ASCII (some lower-case to ASCII: the Kelvin sign, İ).
    const TITLES = ['Alpha', 'alpha', 'ALPHA beta', 'İstanbul', '\u212Aelvin', 'kelvin', 'Éclair', 'eclair', '😀 smile', 'zeta', 'Z', 'z']
    const ids: string[] = []
    for (let i = 0; i < 2000; i++) {
      ids.push((await store.create(DEFAULT_OWNER, { title: `${TITLES[i % TITLES.length]!}${i % 3 === 0 ? '' : ` ${i % 17}`}`, description: i % 2 === 0 ? 'even words' : `odd ${i}`, priority: (['low', 'medium', 'high'] as const)[i % 3]!, isActive: i % 5 !== 0 })).id)
    }
    const cut: { capture: IndexCapture } = await store.backend.withAll((_chats, image) => ({ capture: image()! }))
    logging = true
    // More changes than chats, in no order of ids: most chats updated (some twice, some only in priority or activity), some deleted, creates (some deleted again).
    const late: string[] = []
    for (let n = 0; n < 2000; n++) {
      const i = (n * 7919) % 2000
      if (n % 5 === 0) late.push((await store.create(DEFAULT_OWNER, { title: TITLES[n % TITLES.length]!, description: 'even newer', priority: 'medium' })).id)
      if (i % 4 === 0) await store.update(DEFAULT_OWNER, ids[i]!, { title: TITLES[(i * 7) % TITLES.length]!, description: `renamed ${i % 11}` })
      else if (i % 4 === 1) await store.update(DEFAULT_OWNER, ids[i]!, { priority: (['low', 'medium', 'high'] as const)[(i + 1) % 3]! })
      else if (i % 4 === 2) await store.update(DEFAULT_OWNER, ids[i]!, { isActive: i % 2 === 0 })
    }
    for (let i = 0; i < 2000; i += 8) await store.update(DEFAULT_OWNER, ids[i]!, { title: `again ${TITLES[i % TITLES.length]!}` })
    for (let i = 5; i < 2000; i += 9) await store.delete(DEFAULT_OWNER, ids[i]!)
    for (let i = 0; i < late.length; i += 7) await store.delete(DEFAULT_OWNER, late[i]!)
    expect(tail.length).toBeGreaterThan(2000)

    const chats = await store.backend.withAll((all) => all)
    const merged = createMemoryStore(options)
    merged.backend.restoreImage(await indexImage(cut.capture), tail)
    await merged.backend.checkInvariants()
    expect(await merged.backend.withAll((all) => all)).toEqual(chats)
    const built = createMemoryStore(options)
    built.backend.restore(chats)
    const queries: ListQuery[] = [
      ...SORT_FIELDS.flatMap((field) => [false, true].map((descending) => ({ sort: [{ field, descending }], limit: 1000, offset: 0 }))),
      { sort: [{ field: 'title', descending: false }], limit: 1000, offset: 1000 },
      { q: 'even', limit: 1000 }, { q: 'renamed', limit: 1000 }, { q: 'again', limit: 1000 }, { q: 'newer', priority: ['medium'], limit: 1000 },
      { q: 'istanbul', limit: 100 }, { q: 'kelvin', limit: 100 }, { q: 'eclair', limit: 100 }, { q: 'odd', isActive: false, limit: 1000 }
    ]
    for (const query of queries) {
      const [a, b, c] = [await store.list(DEFAULT_OWNER, query), await merged.list(DEFAULT_OWNER, query), await built.list(DEFAULT_OWNER, query)]
      expect(b.items).toEqual(c.items)
      expect(b.items).toEqual(a.items)
      expect(b.total).toBe(a.total)
    }
    // Writes go on from the merged indexes.
    await merged.create(DEFAULT_OWNER, { title: 'after' })
    await merged.delete(DEFAULT_OWNER, ids[0]!)
    await merged.backend.checkInvariants()
  })

  it('refuses saved indexes that hold an id twice, changing nothing (recovery then builds them)', async () => {
    const store = createMemoryStore({ maxItems: 10, maxBytes: 0, lockTimeoutMs: 1000 })
    for (const title of ['one', 'two', 'three']) await store.create(DEFAULT_OWNER, { title })
    const image = await indexImage(await store.backend.withAll((_chats, image) => image()!))
    const records = [...image.records]
    records[2] = { ...records[2]!, id: records[0]!.id }
    const restored = createMemoryStore({ maxItems: 10, maxBytes: 0, lockTimeoutMs: 1000 })
    expect(() => { restored.backend.restoreImage({ ...image, records }, []) }).toThrow(/the image holds an id twice/)
    expect((await restored.health()).items).toBe(0)
    await restored.backend.checkInvariants()
  })
})
