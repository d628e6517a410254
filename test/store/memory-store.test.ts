import { describe, it, expect } from 'vitest'
import { AppError, type ProblemKind } from '../../src/errors.js'
import type { ChatStore } from '../../src/store/chat-store.js'
import { createIdGenerator } from '../../src/store/ids.js'
import { createMemoryStore, estimateBytes, type MemoryStoreOptions } from '../../src/store/memory/memory-store.js'

const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const FROZEN = Date.UTC(2025, 5, 1, 12, 0, 0, 0)
const MISSING_ID = createIdGenerator()()

function makeStore (options: Partial<MemoryStoreOptions> = {}): ChatStore {
  return createMemoryStore({ maxItems: 10_000, maxBytes: 0, lockTimeoutMs: 60_000, ...options })
}

/** The problem a store call fails with; fails the test when it does not fail with an AppError. */
async function problemOf (call: Promise<unknown>): Promise<AppError> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(AppError)
  return err as AppError
}

async function expectProblem (call: Promise<unknown>, kind: ProblemKind): Promise<void> {
  expect((await problemOf(call)).kind).toBe(kind)
}

const iso = (ms: number): string => new Date(ms).toISOString()

describe('memory store', () => {
  describe('create and get', () => {
    it('fills the defaults, stamps createdAt = updatedAt and version 1', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'Hello' })
      const { id, createdAt, ...rest } = chat
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      expect(createdAt).toMatch(RFC3339_MS_UTC)
      expect(rest).toEqual({ title: 'Hello', description: '', priority: 'medium', isActive: true, updatedAt: createdAt, version: 1 })
      expect(await store.get(chat.id)).toEqual(chat)
      expect(await store.count()).toBe(1)
    })

    it('keeps what was sent, after the title trim (no escaping)', async () => {
      const store = makeStore()
      const input = { title: '  <b>Café</b> & co  ', description: 'line\n<script>', priority: 'high' as const, isActive: false }
      const chat = await store.create(input)
      expect(chat).toMatchObject({ ...input, title: '<b>Café</b> & co' })
    })

    it('uses the clock it is given', async () => {
      const store = makeStore({ now: () => FROZEN })
      const chat = await store.create({ title: 'x' })
      expect(chat.createdAt).toBe(iso(FROZEN))
      expect(chat.updatedAt).toBe(iso(FROZEN))
    })

    it('answers undefined for a missing chat, and for something that is no id at all', async () => {
      const store = makeStore()
      await store.create({ title: 'x' })
      expect(await store.get(MISSING_ID)).toBeUndefined()
      expect(await store.get('nope')).toBeUndefined()
      expect(await store.get('')).toBeUndefined()
    })

    it('refuses invalid input with a validation problem and stores nothing', async () => {
      const store = makeStore()
      const problem = await problemOf(store.create({ title: '   ', description: 'bell \u0007' }))
      expect(problem.kind).toBe('validation')
      expect(problem.errors?.map((e) => e.path)).toEqual(['/title', '/description'])
      await expectProblem(store.create({ title: 'a\u0000b' }), 'validation')
      expect(await store.count()).toBe(0)
    })

    it('gives ids that are unique and sort in creation order', async () => {
      const store = makeStore({ now: () => FROZEN })
      const ids: string[] = []
      for (let i = 0; i < 50; i++) ids.push((await store.create({ title: `t${i}` })).id)
      expect([...ids].sort()).toEqual(ids)
      expect(new Set(ids).size).toBe(ids.length)
    })

    it('hands out copies: changing a returned chat changes nothing stored', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x' })
      chat.title = 'mutated'
      expect((await store.get(chat.id))?.title).toBe('x')
    })
  })

  describe('update (partial)', () => {
    it('changes only the given fields, bumps the version, keeps createdAt', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x', description: 'd', priority: 'low', isActive: true })
      const updated = await store.update(chat.id, { isActive: false })
      expect(updated).toEqual({ ...chat, isActive: false, version: 2, updatedAt: updated.updatedAt })
      expect(await store.get(chat.id)).toEqual(updated)

      const again = await store.update(chat.id, { title: '  y  ', description: '' })
      expect(again).toMatchObject({ title: 'y', description: '', priority: 'low', isActive: false, version: 3, createdAt: chat.createdAt })
    })

    it('makes updatedAt strictly later on every update, also with a clock that stands still', async () => {
      const store = makeStore({ now: () => FROZEN })
      const chat = await store.create({ title: 'x' })
      const stamps = [chat.updatedAt]
      for (let i = 0; i < 3; i++) stamps.push((await store.update(chat.id, { priority: 'high' })).updatedAt)
      stamps.push((await store.replace(chat.id, { title: 'z' })).updatedAt)
      expect(stamps).toEqual([iso(FROZEN), iso(FROZEN + 1), iso(FROZEN + 2), iso(FROZEN + 3), iso(FROZEN + 4)])
      const final = await store.get(chat.id)
      expect(final).toMatchObject({ createdAt: iso(FROZEN), version: 5 })
    })

    it('makes updatedAt strictly later also when the clock goes back', async () => {
      let now = FROZEN
      const store = makeStore({ now: () => now })
      const chat = await store.create({ title: 'x' })
      now -= 60_000
      const updated = await store.update(chat.id, { title: 'y' })
      expect(updated.updatedAt).toBe(iso(FROZEN + 1))
    })

    it('refuses invalid fields and changes nothing', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x' })
      await expectProblem(store.update(chat.id, { title: ' ' }), 'validation')
      await expectProblem(store.update(chat.id, { description: 'd'.repeat(2001) }), 'validation')
      expect(await store.get(chat.id)).toEqual(chat)
    })

    it('answers not found for a missing chat or a non-id', async () => {
      const store = makeStore()
      await expectProblem(store.update(MISSING_ID, { title: 'x' }), 'notFound')
      await expectProblem(store.update('../etc', { title: 'x' }), 'notFound')
    })
  })

  describe('replace', () => {
    it('sets omitted fields back to their defaults and bumps the version', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x', description: 'd', priority: 'high', isActive: false })
      const replaced = await store.replace(chat.id, { title: ' new ' })
      expect(replaced).toEqual({
        id: chat.id,
        title: 'new',
        description: '',
        priority: 'medium',
        isActive: true,
        createdAt: chat.createdAt,
        updatedAt: replaced.updatedAt,
        version: 2
      })
      expect(replaced.updatedAt > chat.updatedAt).toBe(true)
    })

    it('does not create', async () => {
      const store = makeStore()
      await expectProblem(store.replace(MISSING_ID, { title: 'x' }), 'notFound')
      expect(await store.count()).toBe(0)
    })

    it('refuses invalid input and changes nothing', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x' })
      await expectProblem(store.replace(chat.id, { title: '' }), 'validation')
      expect(await store.get(chat.id)).toEqual(chat)
    })
  })

  describe('delete', () => {
    it('removes the chat; a second delete is not found', async () => {
      const store = makeStore()
      const keep = await store.create({ title: 'keep' })
      const chat = await store.create({ title: 'x' })
      await store.delete(chat.id)
      expect(await store.get(chat.id)).toBeUndefined()
      expect(await store.count()).toBe(1)
      await expectProblem(store.delete(chat.id), 'notFound')
      await expectProblem(store.update(chat.id, { title: 'y' }), 'notFound')
      expect(await store.get(keep.id)).toEqual(keep)
    })

    it('never gives a deleted chat\'s id to a new one', async () => {
      const store = makeStore({ now: () => FROZEN })
      const chat = await store.create({ title: 'x' })
      await store.delete(chat.id)
      const next = await store.create({ title: 'x' })
      expect(next.id).not.toBe(chat.id)
      expect(next.id > chat.id).toBe(true)
    })
  })

  describe('ifVersion (If-Match)', () => {
    it('lets a write through when the current version is among those named', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x' })
      const updated = await store.update(chat.id, { title: 'y' }, { ifVersion: [7, 1] })
      expect(updated.version).toBe(2)
      expect((await store.replace(chat.id, { title: 'z' }, { ifVersion: [2] })).version).toBe(3)
      await store.delete(chat.id, { ifVersion: [3] })
      expect(await store.get(chat.id)).toBeUndefined()
    })

    it('fails a write with preconditionFailed when it does not match, and changes nothing', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'x' })
      await expectProblem(store.update(chat.id, { title: 'y' }, { ifVersion: [2] }), 'preconditionFailed')
      await expectProblem(store.replace(chat.id, { title: 'y' }, { ifVersion: [0, 2] }), 'preconditionFailed')
      await expectProblem(store.delete(chat.id, { ifVersion: [] }), 'preconditionFailed')
      expect(await store.get(chat.id)).toEqual(chat)
    })

    it('answers not found before a precondition for a missing chat', async () => {
      const store = makeStore()
      await expectProblem(store.update(MISSING_ID, { title: 'y' }, { ifVersion: [1] }), 'notFound')
    })
  })

  describe('max-items guard', () => {
    it('refuses a create past maxItems with capacityExceeded and stores nothing', async () => {
      const store = makeStore({ maxItems: 2 })
      await store.create({ title: 'a' })
      const b = await store.create({ title: 'b' })
      await expectProblem(store.create({ title: 'c' }), 'capacityExceeded')
      expect(await store.count()).toBe(2)
      expect(store.stats()).toMatchObject({ items: 2, maxItems: 2 })

      // Updates still work when full, and a delete makes room again.
      await store.update(b.id, { title: 'bb' })
      await store.delete(b.id)
      await store.create({ title: 'c' })
      expect(await store.count()).toBe(2)
    })

    it('never goes one over under 500 concurrent creates', async () => {
      const store = makeStore({ maxItems: 100 })
      const results = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => store.create({ title: `chat ${i}` })))
      const created = results.filter((r) => r.status === 'fulfilled')
      const refused = results.filter((r) => r.status === 'rejected')
      expect(created).toHaveLength(100)
      expect(refused).toHaveLength(400)
      for (const r of refused) expect(r.reason).toMatchObject({ kind: 'capacityExceeded', status: 507 })
      expect(await store.count()).toBe(100)
      const page = await store.list({ limit: 100, offset: 0 })
      expect(page.total).toBe(100)
      expect(new Set(page.items.map((c) => c.id)).size).toBe(100)
    })
  })

  describe('memory guard', () => {
    const small = estimateBytes('a', '')
    const big = estimateBytes('x'.repeat(100), '')

    it('counts the estimated bytes of what it holds', async () => {
      const store = makeStore()
      const chat = await store.create({ title: 'a' })
      expect(store.stats().bytes).toBe(small)
      await store.update(chat.id, { title: 'x'.repeat(100) })
      expect(store.stats().bytes).toBe(big)
      await store.delete(chat.id)
      expect(store.stats().bytes).toBe(0)
    })

    it('refuses writes that would pass the budget; reads, deletes and shrinking updates keep working', async () => {
      const store = makeStore({ maxBytes: big + small })
      const large = await store.create({ title: 'x'.repeat(100) })
      const little = await store.create({ title: 'a' })
      expect(store.stats().bytes).toBe(big + small)

      // Full: a create and a growing update are refused, and change nothing.
      await expectProblem(store.create({ title: 'a' }), 'capacityExceeded')
      await expectProblem(store.update(little.id, { description: 'more' }), 'capacityExceeded')
      expect(await store.get(little.id)).toEqual(little)
      expect(await store.count()).toBe(2)
      expect(store.stats().bytes).toBe(big + small)

      // An update that keeps the size, and one that shrinks, go through.
      expect((await store.update(little.id, { priority: 'high' })).version).toBe(2)
      const shrunk = await store.update(large.id, { title: 'b' })
      expect(shrunk.title).toBe('b')
      expect(store.stats().bytes).toBe(2 * small)
      expect((await store.list({ limit: 10 })).total).toBe(2)

      // Three small chats are still over the budget; a delete makes room for one.
      await expectProblem(store.create({ title: 'c' }), 'capacityExceeded')
      await store.delete(little.id)
      expect(store.stats().bytes).toBe(small)
      await store.create({ title: 'c' })
      expect(await store.count()).toBe(2)
    })

    it('is off with a budget of 0', async () => {
      const store = makeStore({ maxBytes: 0 })
      for (let i = 0; i < 20; i++) await store.create({ title: 'x'.repeat(200), description: 'y'.repeat(2000) })
      expect(await store.count()).toBe(20)
    })
  })

  describe('list', () => {
    async function storeWith (n: number): Promise<{ store: ChatStore, ids: string[] }> {
      const store = makeStore()
      const ids: string[] = []
      for (let i = 0; i < n; i++) ids.push((await store.create({ title: `chat ${i}` })).id)
      return { store, ids }
    }

    it('answers an empty page for an empty store', async () => {
      expect(await makeStore().list({ limit: 20 })).toEqual({ items: [], total: 0, limit: 20, offset: 0, nextCursor: null })
    })

    it('pages by limit and offset in creation order, with the total', async () => {
      const { store, ids } = await storeWith(5)
      const first = await store.list({ limit: 2, offset: 0 })
      expect(first.items.map((c) => c.id)).toEqual(ids.slice(0, 2))
      expect(first).toMatchObject({ total: 5, limit: 2, offset: 0 })
      expect((await store.list({ limit: 2, offset: 2 })).items.map((c) => c.id)).toEqual(ids.slice(2, 4))
      expect((await store.list({ limit: 2, offset: 4 })).items.map((c) => c.id)).toEqual(ids.slice(4))
      const past = await store.list({ limit: 2, offset: 10 })
      expect(past).toMatchObject({ items: [], total: 5, offset: 10 })
    })

    it('keeps creation order after updates, and skips deleted chats', async () => {
      const { store, ids } = await storeWith(4)
      await store.update(ids[0]!, { title: 'changed' })
      await store.delete(ids[2]!)
      const page = await store.list({ limit: 10 })
      expect(page.items.map((c) => c.id)).toEqual([ids[0], ids[1], ids[3]])
      expect(page.items[0]?.title).toBe('changed')
      expect(page.total).toBe(3)
    })
  })

  it('closes once writes in flight are done', async () => {
    const store = makeStore()
    const writes = [store.create({ title: 'a' }), store.create({ title: 'b' })]
    await store.close()
    expect(await store.count()).toBe(2)
    await Promise.all(writes)
  })
})

describe('memory store, list views', () => {
  it('answers a chat listed again with the same frozen object, and a new one after every write to it', async () => {
    const store = makeStore()
    const a = await store.create({ title: 'A' })
    await store.create({ title: 'B' })
    const first = (await store.list({ limit: 10 })).items
    const again = (await store.list({ limit: 10 })).items
    expect(again[0]).toBe(first[0])
    expect(again[1]).toBe(first[1])
    expect(Object.isFrozen(first[0])).toBe(true)
    await store.update(a.id, { title: 'A2' })
    const after = (await store.list({ limit: 10 })).items
    expect(after[0]).not.toBe(first[0])
    expect(after[0]).toMatchObject({ id: a.id, title: 'A2', version: 2 })
    expect(after[1]).toBe(first[1])
    await store.delete(a.id)
    expect((await store.list({ limit: 10 })).items).toEqual([first[1]])
  })

  it('keeps at most 1024 views: a chat listed long ago gets a new object', async () => {
    const store = makeStore({ maxItems: 2000 })
    for (let n = 0; n < 1100; n++) await store.create({ title: `Chat ${n}` })
    const first = (await store.list({ limit: 1 })).items[0]
    for (let offset = 0; offset < 1100; offset += 100) await store.list({ limit: 100, offset })
    const again = (await store.list({ limit: 1 })).items[0]
    expect(again).toEqual(first)
    expect(again).not.toBe(first)
  })
})
