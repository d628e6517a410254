import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StoreError } from '../../../src/store/errors.js'
import { DEFAULT_OWNER, PRIORITIES, type Chat, type ListQuery } from '../../../src/store/types.js'
import { CursorCodec, fingerprintOfJson } from '../../../src/store/memory/cursor.js'
import { createMemoryStore, type MemoryStore, type MemoryStoreOptions } from '../../../src/store/memory/memory-store.js'
import type { ChatIndexes } from '../../../src/store/memory/indexes.js'
import { naiveList } from './naive.js'

const KEY = Buffer.alloc(32, 1)

function makeStore (options: Partial<MemoryStoreOptions> = {}) {
  return createMemoryStore({ maxItems: 100_000, maxBytes: 0, lockTimeoutMs: 60_000, cursorKey: KEY, ...options })
}

async function refusal (call: Promise<unknown>): Promise<StoreError> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(StoreError)
  return err as StoreError
}

describe('list: cursor paging while others write', () => {
  it.each([
    ['createdAt'], ['-createdAt'], ['title'], ['-title'], ['priority,-updatedAt'], ['-priority'], ['updatedAt,title']
  ])('shows every chat that existed throughout exactly once, and nothing twice (sort=%s)', async (sortParam) => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: 60 }),
      fc.array(fc.tuple(fc.nat(4), fc.nat(4), fc.nat()), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 6 }),
      async (initial, rounds, limit) => {
        let t = Date.UTC(2025, 0, 1)
        const store = makeStore({ now: () => t, indexChunk: 4 })
        const titles = ['alpha', 'Beta', 'gamma', 'beta', 'Alpha']
        const create = async (i: number): Promise<Chat> => await store.create(DEFAULT_OWNER, { title: titles[i % 5]!, priority: PRIORITIES[i % 3]! })
        const alive = new Set<string>()
        for (let i = 0; i < initial; i++) { alive.add((await create(i)).id); if (i % 4 === 0) t++ }
        const throughout = new Set(alive)
        const sort = sortParam.split(',').map((k) => ({ field: k.replace('-', '') as 'createdAt', descending: k.startsWith('-') }))
        const query: ListQuery = { sort, limit }
        const seen: string[] = []
        let page = await store.list(DEFAULT_OWNER, query)
        let round = 0
        for (;;) {
          // Every page shows something new, so a loop that repeats itself is a failure, not a hang.
          expect(seen.length).toBeLessThanOrEqual(initial + 4 * rounds.length)
          seen.push(...page.items.map((c) => c.id))
          if (page.nextCursor === null) break
          // Between pages, other clients insert and delete, interleaved with the next read (for a while: inserts past the cursor would go on forever).
          const [inserts, deletes, pick] = rounds[round++] ?? [0, 0, 0]
          const writes: Array<Promise<unknown>> = []
          for (let i = 0; i < inserts; i++) writes.push(create(pick + i).then((c) => alive.add(c.id)))
          for (let i = 0; i < deletes && alive.size > 0; i++) {
            const id = [...alive][(pick + i * 7) % alive.size]!
            alive.delete(id)
            throughout.delete(id)
            writes.push(store.delete(DEFAULT_OWNER, id))
          }
          t++
          const next = store.list(DEFAULT_OWNER, { ...query, cursor: page.nextCursor })
          await Promise.all(writes)
          page = await next
        }
        expect(new Set(seen).size).toBe(seen.length)
        for (const id of throughout) expect(seen).toContain(id)
      }
    ), { numRuns: 40 })
  })
})

describe('list: checks and plans', () => {
  it('refuses cursor with offset, a q with no word, and a cursor reused with another sort or filters', async () => {
    const store = makeStore()
    for (let i = 0; i < 5; i++) await store.create(DEFAULT_OWNER, { title: `chat ${i}` })
    const first = await store.list(DEFAULT_OWNER, { limit: 2 })
    const cursor = first.nextCursor!
    expect((await refusal(store.list(DEFAULT_OWNER, { limit: 2, cursor, offset: 0 }))).fields).toEqual([expect.objectContaining({ field: '/offset' })])
    expect((await refusal(store.list(DEFAULT_OWNER, { limit: 2, q: ' -_- ' }))).fields).toEqual([expect.objectContaining({ field: '/q' })])
    for (const other of [{ sort: [{ field: 'title' as const, descending: false }] }, { isActive: true }, { priority: ['low' as const] }, { q: 'chat' }, { createdFrom: 0 }]) {
      expect((await refusal(store.list(DEFAULT_OWNER, { limit: 2, cursor, ...other }))).fields).toEqual([expect.objectContaining({ field: '/cursor' })])
    }
    // Limit may change; the same filters in another spelling are the same filters.
    expect((await store.list(DEFAULT_OWNER, { limit: 3, cursor })).items.map((c) => c.title)).toEqual(['chat 2', 'chat 3', 'chat 4'])
    const all = await store.list(DEFAULT_OWNER, { limit: 1, priority: ['low', 'medium', 'high'] })
    expect((await store.list(DEFAULT_OWNER, { limit: 1, cursor: all.nextCursor! })).items[0]?.title).toBe('chat 1')
  })

  it('refuses a signed cursor whose position does not fit the sort', async () => {
    const store = makeStore()
    await store.create(DEFAULT_OWNER, { title: 'x' })
    // The fingerprint of the owner's query, as `runQuery` makes it.
    const fp = fingerprintOfJson(DEFAULT_OWNER + JSON.stringify({ p: 7, a: null, f: null, t: null, q: null, s: ['createdAt'] }))
    const forged = new CursorCodec(KEY).encode(fp, ['not a number', 'id'])
    expect((await refusal(store.list(DEFAULT_OWNER, { limit: 1, cursor: forged }))).message).toMatch(/does not fit/)
  })

  it('names its plan at debug level', async () => {
    const plans: string[] = []
    const store = makeStore({ queryLog: { debug: (o: object) => { plans.push((o as { plan: string }).plan) } } })
    for (let i = 0; i < 300; i++) await store.create(DEFAULT_OWNER, { title: `chat ${i % 7}`, description: `note${i}`, priority: PRIORITIES[i % 3]!, isActive: i % 2 === 0 })
    // Many matches: walk the sort's index and stop early. Few: sort just those.
    await store.list(DEFAULT_OWNER, { limit: 5, priority: ['high'], isActive: true, sort: [{ field: 'createdAt', descending: true }] })
    await store.list(DEFAULT_OWNER, { limit: 5, q: 'chat 3' })
    await store.list(DEFAULT_OWNER, { limit: 5, q: 'note123' })
    await store.list(DEFAULT_OWNER, { limit: 5, sort: [{ field: 'title', descending: false }], offset: 3 })
    await store.list(DEFAULT_OWNER, { limit: 5, createdFrom: 0, createdTo: Date.now() + 1000 })
    await store.list(DEFAULT_OWNER, { limit: 5, q: 'nothing' })
    expect(plans).toEqual([
      'index:createdAt:desc|count:counters',
      'index:createdAt|count:text',
      'sort:text|count:text',
      'index:title+offset-jump|count:counters',
      'index:createdAt+range|count:createdAt-rank',
      'empty|count:text'
    ])
  })

  it('answers a page past the end with no cursor, and groups by priority through offsets', async () => {
    const store = makeStore({ indexChunk: 3 })
    for (let i = 0; i < 40; i++) await store.create(DEFAULT_OWNER, { title: `t${i % 4}`, priority: PRIORITIES[i % 3]!, isActive: i % 3 !== 1 })
    const chats = (await store.list(DEFAULT_OWNER, { limit: 100 })).items
    for (const query of [
      { limit: 4, offset: 7, sort: [{ field: 'priority' as const, descending: true }] },
      { limit: 4, offset: 15, sort: [{ field: 'priority' as const, descending: false }], isActive: true },
      { limit: 4, offset: 3, sort: [{ field: 'priority' as const, descending: false }, { field: 'title' as const, descending: true }], priority: ['low' as const, 'high' as const] },
      { limit: 4, offset: 2, sort: [{ field: 'title' as const, descending: true }, { field: 'createdAt' as const, descending: true }] },
      { limit: 4, offset: 99 }
    ]) {
      const page = await store.list(DEFAULT_OWNER, query)
      const expected = naiveList(chats, query)
      expect(page.items).toEqual(expected.slice(query.offset, query.offset + 4))
      expect(page.total).toBe(expected.length)
      expect(page.nextCursor === null).toBe(query.offset + 4 >= expected.length)
    }
  })

  it('has its invariants checked: an index that drifts from the rows is reported', async () => {
    const store = createMemoryStore({ maxItems: 10, maxBytes: 0, lockTimeoutMs: 1000 })
    await store.create(DEFAULT_OWNER, { title: 'Alpha beta', priority: 'high' })
    const b = await store.create(DEFAULT_OWNER, { title: 'Gamma' })
    await store.backend.checkInvariants()
    const ix = (store.backend as unknown as { owners: Map<string, ChatIndexes> }).owners.get(DEFAULT_OWNER)!
    ix.byTitle.remove(0)
    ix.counts[5]!++
    ix.createdAt[1] = 0
    ix.text.remove(0, ['alpha'])
    ix.records[0] = { ...ix.records[0]!, id: 'not-its-id', title: 'x' }
    await expect(store.backend.checkInvariants()).rejects.toThrow(new RegExp([
      `chat ${b.id} comes after not-its-id`, 'chat not-its-id is not in its row', 'columns disagree', 'counts are', 'the title index holds 1 entries, not 2', 'the byte count is'
    ].join('.*')))
  })

  it('rebuilds the same indexes in one go when recovery restores a map of chats', async () => {
    let t = Date.UTC(2025, 0, 1)
    const source = createMemoryStore({ maxItems: 1000, maxBytes: 0, lockTimeoutMs: 1000, now: () => t, indexChunk: 4 })
    const ids: string[] = []
    for (let i = 0; i < 120; i++) {
      ids.push((await source.create(DEFAULT_OWNER, { title: `${['Beta', 'alpha', 'Gamma'][i % 3]!} ${i % 11}`, description: `note ${i % 13}`, priority: PRIORITIES[i % 3]!, isActive: i % 4 !== 0 })).id)
      if (i % 5 === 0) t++
    }
    for (let i = 0; i < 120; i += 7) await source.update(DEFAULT_OWNER, ids[i]!, { title: `renamed ${i}`, priority: 'low' })
    for (let i = 3; i < 120; i += 9) await source.delete(DEFAULT_OWNER, ids[i]!)
    const copy = await source.backend.withAll((chats) => chats)
    const restored = createMemoryStore({ maxItems: 1000, maxBytes: 0, lockTimeoutMs: 1000, indexChunk: 4 })
    restored.backend.restore(copy)
    await restored.backend.checkInvariants()
    const everything = async (store: MemoryStore): Promise<Chat[]> => {
      const sort = [{ field: 'updatedAt' as const, descending: true }]
      return [...(await store.list(DEFAULT_OWNER, { limit: 100, sort })).items, ...(await store.list(DEFAULT_OWNER, { limit: 100, offset: 100, sort })).items]
    }
    const all = await everything(source)
    expect(all).toHaveLength(107)
    expect(await everything(restored)).toEqual(all)
    for (const query of [
      { limit: 7, offset: 5, sort: [{ field: 'title' as const, descending: false }] },
      { limit: 7, priority: ['low' as const], isActive: true, sort: [{ field: 'priority' as const, descending: true }, { field: 'createdAt' as const, descending: true }] },
      { limit: 7, q: 'alp note 1', sort: [{ field: 'title' as const, descending: true }] }
    ]) {
      const expected = naiveList(all, query)
      const page = await restored.list(DEFAULT_OWNER, query)
      expect(page.items).toEqual(expected.slice(query.offset ?? 0, (query.offset ?? 0) + 7))
      expect(page.total).toBe(expected.length)
    }
    await restored.create(DEFAULT_OWNER, { title: 'after recovery' })
    await restored.backend.checkInvariants()
  })
})
