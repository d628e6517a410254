import { describe, it, expect } from 'vitest'
import type { ChatStore } from '../../src/store/chat-store.js'
import { StoreError, type StoreErrorCode } from '../../src/store/errors.js'
import { createIdGenerator } from '../../src/store/ids.js'
import { estimateBytes, type MemoryStoreOptions } from '../../src/store/memory/memory-store.js'
import { DEFAULT_OWNER } from '../../src/store/types.js'

/**
 * The suite every backend passes (`backends.test.ts` runs it on each): the contract of `ChatStore`
 * over that backend, with the rules of `rules.ts`, the limits, and (`naive-model.ts`) every list
 * query checked against the naive reference after random writes.
 */
export type MakeStore = (options?: Partial<MemoryStoreOptions>) => Promise<ChatStore>

const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const FROZEN = Date.UTC(2025, 5, 1, 12, 0, 0, 0)
const MISSING_ID = createIdGenerator()()

/** The error a store call fails with; fails the test when it does not fail with a StoreError. */
async function problemOf (call: Promise<unknown>): Promise<StoreError> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(StoreError)
  return err as StoreError
}

async function expectProblem (call: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  expect((await problemOf(call)).code).toBe(code)
}

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * What a backend has beyond the contract. `memoryGuard`: the `maxBytes` budget (MAX_STORE_BYTES),
 * a guard of this process's heap, which the in-process backends have and the Redis backend does
 * not (Redis has its own `maxmemory`; a write it refuses for memory is `capacity` too).
 */
export interface BackendCapabilities { memoryGuard: boolean }

export function describeBackend (name: string, makeStore: MakeStore, capabilities: BackendCapabilities = { memoryGuard: true }): void {
describe(`the store on the ${name} backend`, () => {
  describe('create and get', () => {
    it('fills the defaults, stamps createdAt = updatedAt and version 1', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'Hello' })
      const { id, createdAt, ...rest } = chat
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      expect(createdAt).toMatch(RFC3339_MS_UTC)
      expect(rest).toEqual({ title: 'Hello', description: '', priority: 'medium', isActive: true, updatedAt: createdAt, version: 1 })
      expect(await store.get(DEFAULT_OWNER, chat.id)).toEqual(chat)
      expect(await store.count(DEFAULT_OWNER)).toBe(1)
    })

    it('keeps what was sent, after the title trim (no escaping)', async () => {
      const store = await makeStore()
      const input = { title: '  <b>Café</b> & co  ', description: 'line\n<script>', priority: 'high' as const, isActive: false }
      const chat = await store.create(DEFAULT_OWNER, input)
      expect(chat).toMatchObject({ ...input, title: '<b>Café</b> & co' })
    })

    it('uses the clock it is given', async () => {
      const store = await makeStore({ now: () => FROZEN })
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      expect(chat.createdAt).toBe(iso(FROZEN))
      expect(chat.updatedAt).toBe(iso(FROZEN))
    })

    it('answers undefined for a missing chat, and for something that is no id at all', async () => {
      const store = await makeStore()
      await store.create(DEFAULT_OWNER, { title: 'x' })
      expect(await store.get(DEFAULT_OWNER, MISSING_ID)).toBeUndefined()
      expect(await store.get(DEFAULT_OWNER, 'nope')).toBeUndefined()
      expect(await store.get(DEFAULT_OWNER, '')).toBeUndefined()
    })

    it('refuses invalid input with a validation problem and stores nothing', async () => {
      const store = await makeStore()
      const problem = await problemOf(store.create(DEFAULT_OWNER, { title: '   ', description: 'bell \u0007' }))
      expect(problem.code).toBe('invalid')
      expect(problem.fields.map((f) => f.field)).toEqual(['/title', '/description'])
      await expectProblem(store.create(DEFAULT_OWNER, { title: 'a\u0000b' }), 'invalid')
      expect(await store.count(DEFAULT_OWNER)).toBe(0)
    })

    it('gives ids that are unique and sort in creation order', async () => {
      const store = await makeStore({ now: () => FROZEN })
      const ids: string[] = []
      for (let i = 0; i < 50; i++) ids.push((await store.create(DEFAULT_OWNER, { title: `t${i}` })).id)
      expect([...ids].sort()).toEqual(ids)
      expect(new Set(ids).size).toBe(ids.length)
    })

    it('hands out copies: changing a returned chat changes nothing stored', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      chat.title = 'mutated'
      expect((await store.get(DEFAULT_OWNER, chat.id))?.title).toBe('x')
    })
  })

  describe('update (partial)', () => {
    it('changes only the given fields, bumps the version, keeps createdAt', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x', description: 'd', priority: 'low', isActive: true })
      const updated = await store.update(DEFAULT_OWNER, chat.id, { isActive: false })
      expect(updated).toEqual({ ...chat, isActive: false, version: 2, updatedAt: updated.updatedAt })
      expect(await store.get(DEFAULT_OWNER, chat.id)).toEqual(updated)

      const again = await store.update(DEFAULT_OWNER, chat.id, { title: '  y  ', description: '' })
      expect(again).toMatchObject({ title: 'y', description: '', priority: 'low', isActive: false, version: 3, createdAt: chat.createdAt })
    })

    it('makes updatedAt strictly later on every update, also with a clock that stands still', async () => {
      const store = await makeStore({ now: () => FROZEN })
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      const stamps = [chat.updatedAt]
      for (let i = 0; i < 3; i++) stamps.push((await store.update(DEFAULT_OWNER, chat.id, { priority: 'high' })).updatedAt)
      stamps.push((await store.replace(DEFAULT_OWNER, chat.id, { title: 'z' })).updatedAt)
      expect(stamps).toEqual([iso(FROZEN), iso(FROZEN + 1), iso(FROZEN + 2), iso(FROZEN + 3), iso(FROZEN + 4)])
      const final = await store.get(DEFAULT_OWNER, chat.id)
      expect(final).toMatchObject({ createdAt: iso(FROZEN), version: 5 })
    })

    it('makes updatedAt strictly later also when the clock goes back', async () => {
      let now = FROZEN
      const store = await makeStore({ now: () => now })
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      now -= 60_000
      const updated = await store.update(DEFAULT_OWNER, chat.id, { title: 'y' })
      expect(updated.updatedAt).toBe(iso(FROZEN + 1))
    })

    it('refuses invalid fields and changes nothing', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      await expectProblem(store.update(DEFAULT_OWNER, chat.id, { title: ' ' }), 'invalid')
      await expectProblem(store.update(DEFAULT_OWNER, chat.id, { description: 'd'.repeat(2001) }), 'invalid')
      expect(await store.get(DEFAULT_OWNER, chat.id)).toEqual(chat)
    })

    it('answers not found for a missing chat or a non-id', async () => {
      const store = await makeStore()
      await expectProblem(store.update(DEFAULT_OWNER, MISSING_ID, { title: 'x' }), 'notFound')
      await expectProblem(store.update(DEFAULT_OWNER, '../etc', { title: 'x' }), 'notFound')
    })
  })

  describe('replace', () => {
    it('sets omitted fields back to their defaults and bumps the version', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x', description: 'd', priority: 'high', isActive: false })
      const replaced = await store.replace(DEFAULT_OWNER, chat.id, { title: ' new ' })
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
      const store = await makeStore()
      await expectProblem(store.replace(DEFAULT_OWNER, MISSING_ID, { title: 'x' }), 'notFound')
      expect(await store.count(DEFAULT_OWNER)).toBe(0)
    })

    it('refuses invalid input and changes nothing', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      await expectProblem(store.replace(DEFAULT_OWNER, chat.id, { title: '' }), 'invalid')
      expect(await store.get(DEFAULT_OWNER, chat.id)).toEqual(chat)
    })
  })

  describe('delete', () => {
    it('removes the chat; a second delete is not found', async () => {
      const store = await makeStore()
      const keep = await store.create(DEFAULT_OWNER, { title: 'keep' })
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      await store.delete(DEFAULT_OWNER, chat.id)
      expect(await store.get(DEFAULT_OWNER, chat.id)).toBeUndefined()
      expect(await store.count(DEFAULT_OWNER)).toBe(1)
      await expectProblem(store.delete(DEFAULT_OWNER, chat.id), 'notFound')
      await expectProblem(store.update(DEFAULT_OWNER, chat.id, { title: 'y' }), 'notFound')
      expect(await store.get(DEFAULT_OWNER, keep.id)).toEqual(keep)
    })

    it('never gives a deleted chat\'s id to a new one', async () => {
      const store = await makeStore({ now: () => FROZEN })
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      await store.delete(DEFAULT_OWNER, chat.id)
      const next = await store.create(DEFAULT_OWNER, { title: 'x' })
      expect(next.id).not.toBe(chat.id)
      expect(next.id > chat.id).toBe(true)
    })
  })

  describe('ifVersion (If-Match)', () => {
    it('lets a write through when the current version is among those named', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      const updated = await store.update(DEFAULT_OWNER, chat.id, { title: 'y' }, { ifVersion: [7, 1] })
      expect(updated.version).toBe(2)
      expect((await store.replace(DEFAULT_OWNER, chat.id, { title: 'z' }, { ifVersion: [2] })).version).toBe(3)
      await store.delete(DEFAULT_OWNER, chat.id, { ifVersion: [3] })
      expect(await store.get(DEFAULT_OWNER, chat.id)).toBeUndefined()
    })

    it('fails a write with preconditionFailed when it does not match, and changes nothing', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'x' })
      await expectProblem(store.update(DEFAULT_OWNER, chat.id, { title: 'y' }, { ifVersion: [2] }), 'versionMismatch')
      await expectProblem(store.replace(DEFAULT_OWNER, chat.id, { title: 'y' }, { ifVersion: [0, 2] }), 'versionMismatch')
      await expectProblem(store.delete(DEFAULT_OWNER, chat.id, { ifVersion: [] }), 'versionMismatch')
      expect(await store.get(DEFAULT_OWNER, chat.id)).toEqual(chat)
    })

    it('answers not found before a precondition for a missing chat', async () => {
      const store = await makeStore()
      await expectProblem(store.update(DEFAULT_OWNER, MISSING_ID, { title: 'y' }, { ifVersion: [1] }), 'notFound')
    })
  })

  describe('per-owner quota (maxItemsPerOwner)', () => {
    it('never lets an owner go one over under 500 concurrent creates, names the quota, and leaves other owners alone', async () => {
      const store = await makeStore({ maxItemsPerOwner: 100 })
      const results = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => store.create('alice', { title: `chat ${i}` })))
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100)
      const refused = results.filter((r) => r.status === 'rejected')
      expect(refused).toHaveLength(400)
      for (const r of refused) expect(r.reason).toMatchObject({ code: 'capacity', message: expect.stringMatching(/quota of 100/) as unknown })
      expect(await store.count('alice')).toBe(100)
      expect(await store.create('bob', { title: 'mine' })).toMatchObject({ title: 'mine' })
      // A delete makes room for one more.
      const [first] = (await store.list('alice', { limit: 1 })).items
      await store.delete('alice', first!.id)
      await store.create('alice', { title: 'again' })
      await expectProblem(store.create('alice', { title: 'over' }), 'capacity')
      expect(await store.count('alice')).toBe(100)
    })
  })

  describe('max-items guard', () => {
    it('refuses a create past maxItems with capacityExceeded and stores nothing', async () => {
      const store = await makeStore({ maxItems: 2 })
      await store.create(DEFAULT_OWNER, { title: 'a' })
      const b = await store.create(DEFAULT_OWNER, { title: 'b' })
      await expectProblem(store.create(DEFAULT_OWNER, { title: 'c' }), 'capacity')
      expect(await store.count(DEFAULT_OWNER)).toBe(2)
      expect((await store.health())).toMatchObject({ items: 2, maxItems: 2 })

      // Updates still work when full, and a delete makes room again.
      await store.update(DEFAULT_OWNER, b.id, { title: 'bb' })
      await store.delete(DEFAULT_OWNER, b.id)
      await store.create(DEFAULT_OWNER, { title: 'c' })
      expect(await store.count(DEFAULT_OWNER)).toBe(2)
    })

    it('never goes one over under 500 concurrent creates', async () => {
      const store = await makeStore({ maxItems: 100 })
      const results = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => store.create(DEFAULT_OWNER, { title: `chat ${i}` })))
      const created = results.filter((r) => r.status === 'fulfilled')
      const refused = results.filter((r) => r.status === 'rejected')
      expect(created).toHaveLength(100)
      expect(refused).toHaveLength(400)
      for (const r of refused) expect(r.reason).toMatchObject({ code: 'capacity' })
      expect(await store.count(DEFAULT_OWNER)).toBe(100)
      const page = await store.list(DEFAULT_OWNER, { limit: 100, offset: 0 })
      expect(page.total).toBe(100)
      expect(new Set(page.items.map((c) => c.id)).size).toBe(100)
    })
  })

  describe.runIf(capabilities.memoryGuard)('memory guard', () => {
    const small = estimateBytes('a', '')
    const big = estimateBytes('x'.repeat(100), '')

    it('counts the estimated bytes of what it holds', async () => {
      const store = await makeStore()
      const chat = await store.create(DEFAULT_OWNER, { title: 'a' })
      expect((await store.health()).bytes).toBe(small)
      await store.update(DEFAULT_OWNER, chat.id, { title: 'x'.repeat(100) })
      expect((await store.health()).bytes).toBe(big)
      await store.delete(DEFAULT_OWNER, chat.id)
      expect((await store.health()).bytes).toBe(0)
    })

    it('refuses writes that would pass the budget; reads, deletes and shrinking updates keep working', async () => {
      const store = await makeStore({ maxBytes: big + small })
      const large = await store.create(DEFAULT_OWNER, { title: 'x'.repeat(100) })
      const little = await store.create(DEFAULT_OWNER, { title: 'a' })
      expect((await store.health()).bytes).toBe(big + small)

      // Full: a create and a growing update are refused, and change nothing.
      await expectProblem(store.create(DEFAULT_OWNER, { title: 'a' }), 'capacity')
      await expectProblem(store.update(DEFAULT_OWNER, little.id, { description: 'more' }), 'capacity')
      expect(await store.get(DEFAULT_OWNER, little.id)).toEqual(little)
      expect(await store.count(DEFAULT_OWNER)).toBe(2)
      expect((await store.health()).bytes).toBe(big + small)

      // An update that keeps the size, and one that shrinks, go through.
      expect((await store.update(DEFAULT_OWNER, little.id, { priority: 'high' })).version).toBe(2)
      const shrunk = await store.update(DEFAULT_OWNER, large.id, { title: 'b' })
      expect(shrunk.title).toBe('b')
      expect((await store.health()).bytes).toBe(2 * small)
      expect((await store.list(DEFAULT_OWNER, { limit: 10 })).total).toBe(2)

      // Three small chats are still over the budget; a delete makes room for one.
      await expectProblem(store.create(DEFAULT_OWNER, { title: 'c' }), 'capacity')
      await store.delete(DEFAULT_OWNER, little.id)
      expect((await store.health()).bytes).toBe(small)
      await store.create(DEFAULT_OWNER, { title: 'c' })
      expect(await store.count(DEFAULT_OWNER)).toBe(2)
    })

    it('is off with a budget of 0', async () => {
      const store = await makeStore({ maxBytes: 0 })
      for (let i = 0; i < 20; i++) await store.create(DEFAULT_OWNER, { title: 'x'.repeat(200), description: 'y'.repeat(2000) })
      expect(await store.count(DEFAULT_OWNER)).toBe(20)
    })
  })

  describe('list', () => {
    async function storeWith (n: number): Promise<{ store: ChatStore, ids: string[] }> {
      const store = await makeStore()
      const ids: string[] = []
      for (let i = 0; i < n; i++) ids.push((await store.create(DEFAULT_OWNER, { title: `chat ${i}` })).id)
      return { store, ids }
    }

    it('answers an empty page for an empty store', async () => {
      expect(await (await makeStore()).list(DEFAULT_OWNER, { limit: 20 })).toEqual({ items: [], total: 0, limit: 20, offset: 0, nextCursor: null })
    })

    it('pages by limit and offset in creation order, with the total', async () => {
      const { store, ids } = await storeWith(5)
      const first = await store.list(DEFAULT_OWNER, { limit: 2, offset: 0 })
      expect(first.items.map((c) => c.id)).toEqual(ids.slice(0, 2))
      expect(first).toMatchObject({ total: 5, limit: 2, offset: 0 })
      expect((await store.list(DEFAULT_OWNER, { limit: 2, offset: 2 })).items.map((c) => c.id)).toEqual(ids.slice(2, 4))
      expect((await store.list(DEFAULT_OWNER, { limit: 2, offset: 4 })).items.map((c) => c.id)).toEqual(ids.slice(4))
      const past = await store.list(DEFAULT_OWNER, { limit: 2, offset: 10 })
      expect(past).toMatchObject({ items: [], total: 5, offset: 10 })
    })

    it('keeps creation order after updates, and skips deleted chats', async () => {
      const { store, ids } = await storeWith(4)
      await store.update(DEFAULT_OWNER, ids[0]!, { title: 'changed' })
      await store.delete(DEFAULT_OWNER, ids[2]!)
      const page = await store.list(DEFAULT_OWNER, { limit: 10 })
      expect(page.items.map((c) => c.id)).toEqual([ids[0], ids[1], ids[3]])
      expect(page.items[0]?.title).toBe('changed')
      expect(page.total).toBe(3)
    })
  })

  it('closes once writes in flight are done, acknowledging them', async () => {
    const store = await makeStore()
    const writes = [store.create(DEFAULT_OWNER, { title: 'a' }), store.create(DEFAULT_OWNER, { title: 'b' })]
    let closed = false
    const closing = store.close().then(() => { closed = true })
    const chats = await Promise.all(writes)
    expect(chats.map((c) => c.title)).toEqual(['a', 'b'])
    await closing
    expect(closed).toBe(true)
  })
})
}
