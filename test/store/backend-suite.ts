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

export function describeBackend (name: string, makeStore: MakeStore): void {
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

  describe('memory guard', () => {
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

  describe('change feed', () => {
    it('records every write of an owner in commit order, each with its type, version, time and chat', async () => {
      const store = await makeStore({ now: () => FROZEN })
      const a = await store.create('alice', { title: 'a' })
      await store.create('bob', { title: 'not alice\'s' })
      const a2 = await store.update('alice', a.id, { title: 'a2' })
      await store.delete('alice', a.id)
      const page = await store.changes('alice', undefined, 100)
      expect(page.items.map((c) => [c.type, c.id, c.version])).toEqual([['created', a.id, 1], ['updated', a.id, 2], ['deleted', a.id, 2]])
      expect(page.items[0]!.chat).toEqual(a)
      expect(page.items[1]!.chat).toEqual(a2)
      expect(page.items[2]!.chat).toBeUndefined()
      expect(page.items.map((c) => c.at)).toEqual([iso(FROZEN), iso(FROZEN + 1), iso(FROZEN + 1)])
      const seqs = page.items.map((c) => c.seq)
      expect([...seqs].sort()).toEqual(seqs)
      expect(new Set(seqs).size).toBe(3)
      expect(page.nextAfter).toBe(seqs[2])
      // Paging by after, and an empty page that gives the current position.
      expect((await store.changes('alice', seqs[0], 1)).items.map((c) => c.seq)).toEqual([seqs[1]])
      const end = await store.changes('alice', seqs[2], 100)
      expect(end.items).toEqual([])
      await store.create('bob', { title: 'later' })
      const head = (await store.changes('alice', undefined, 0)).nextAfter
      expect(head >= seqs[2]!).toBe(true)
      expect((await store.changes('alice', head, 100)).items).toEqual([])
      const alice2 = await store.create('alice', { title: 'after the head' })
      expect((await store.changes('alice', head, 100)).items.map((c) => c.id)).toEqual([alice2.id])
      // A refused write records nothing.
      await expectProblem(store.update('alice', alice2.id, { title: 'x' }, { ifVersion: [9] }), 'versionMismatch')
      await expectProblem(store.create('alice', { title: ' ' }), 'invalid')
      expect((await store.changes('alice', head, 100)).items).toHaveLength(1)
    })

    it('keeps the last changesRetain changes of each owner; an after older than those is expired, a malformed one invalid', async () => {
      const store = await makeStore({ changesRetain: 3 })
      const chat = await store.create('alice', { title: 'a' })
      for (let i = 0; i < 4; i++) await store.update('alice', chat.id, { title: `v${i}` })
      await store.create('bob', { title: 'b' })
      const kept = await store.changes('alice', undefined, 100)
      expect(kept.items.map((c) => c.version)).toEqual([3, 4, 5])
      expect((await store.changes('bob', undefined, 100)).items).toHaveLength(1)
      // After the first kept change: fine; before it (changes dropped since): expired.
      expect((await store.changes('alice', kept.items[0]!.seq, 100)).items.map((c) => c.version)).toEqual([4, 5])
      const firstSeq = (await store.changes('bob', undefined, 1)).items[0]!.seq
      await expectProblem(store.changes('alice', '0000000000000001', 10), 'expired')
      expect(firstSeq > kept.items[2]!.seq).toBe(true)
      // A position past anything this store gave: another store's.
      await expectProblem(store.changes('alice', '9999999999999999', 10), 'expired')
      const bad = await problemOf(store.changes('alice', 'not-a-seq', 10))
      expect(bad.code).toBe('invalid')
      expect(bad.fields[0]).toMatchObject({ source: 'query', field: '/after' })
    })

    it('publishes each owner\'s changes to that owner\'s listeners, in order, until they unsubscribe', async () => {
      const store = await makeStore()
      const seen: string[] = []
      const bobSeen: string[] = []
      const stop = store.subscribe('alice', (c) => seen.push(`${c.type} ${c.version} ${c.seq}`))
      store.subscribe('bob', (c) => bobSeen.push(c.type))
      const chat = await store.create('alice', { title: 'a' })
      await Promise.all([store.update('alice', chat.id, { title: 'b' }), store.create('alice', { title: 'c' })])
      const page = await store.changes('alice', undefined, 100)
      expect(seen).toEqual(page.items.map((c) => `${c.type} ${c.version} ${c.seq}`))
      stop()
      await store.delete('alice', chat.id)
      expect(seen).toHaveLength(3)
      expect(bobSeen).toEqual([])
    })
  })

  describe('history', () => {
    it('keeps the last historyVersions versions, oldest first, pages them by cursor, and forgets a deleted chat', async () => {
      const store = await makeStore({ historyVersions: 3, now: () => FROZEN })
      const chat = await store.create('alice', { title: 'v1' })
      expect((await store.history('alice', chat.id, { limit: 20 })).items).toEqual([{ version: 1, type: 'created', at: chat.createdAt, chat }])
      const versions = [chat]
      for (let i = 2; i <= 5; i++) versions.push(await store.update('alice', chat.id, { title: `v${i}` }))
      const all = await store.history('alice', chat.id, { limit: 20 })
      expect(all.items.map((h) => [h.version, h.type, h.chat.title])).toEqual([[3, 'updated', 'v3'], [4, 'updated', 'v4'], [5, 'updated', 'v5']])
      expect(all.items.map((h) => h.chat)).toEqual(versions.slice(2))
      expect(all.nextCursor).toBeNull()
      const first = await store.history('alice', chat.id, { limit: 2 })
      expect(first.items.map((h) => h.version)).toEqual([3, 4])
      expect(first).toMatchObject({ limit: 2, nextCursor: expect.any(String) as unknown })
      const second = await store.history('alice', chat.id, { limit: 2, cursor: first.nextCursor! })
      expect(second.items.map((h) => h.version)).toEqual([5])
      expect(second.nextCursor).toBeNull()
      expect((await problemOf(store.history('alice', chat.id, { limit: 2, cursor: 'tampered' }))).code).toBe('invalid')
      await expectProblem(store.history('bob', chat.id, { limit: 20 }), 'notFound')
      await store.delete('alice', chat.id)
      await expectProblem(store.history('alice', chat.id, { limit: 20 }), 'notFound')
    })

    it('counts the versions it keeps in the memory guard: an update that would pass the budget with its history is refused', async () => {
      const store = await makeStore({ historyVersions: 3 })
      const chat = await store.create('alice', { title: 'a' })
      const one = (await store.health()).bytes!
      await store.update('alice', chat.id, { title: 'b' })
      const two = (await store.health()).bytes!
      expect(two).toBeGreaterThan(one)
      await store.update('alice', chat.id, { title: 'c' })
      const three = (await store.health()).bytes!
      // The fourth version drops the first: the history's bytes stay.
      await store.update('alice', chat.id, { title: 'd' })
      expect((await store.health()).bytes).toBe(three)
      await store.delete('alice', chat.id)
      expect((await store.health()).bytes).toBe(0)
      const tight = await makeStore({ historyVersions: 3, maxBytes: one + (two - one) - 1 })
      const small = await tight.create('alice', { title: 'a' })
      await expectProblem(tight.update('alice', small.id, { title: 'b' }), 'capacity')
      expect((await tight.history('alice', small.id, { limit: 10 })).items).toHaveLength(1)
    })

    it('is off with historyVersions 0: an empty page for a chat that exists', async () => {
      const store = await makeStore({ historyVersions: 0 })
      const chat = await store.create('alice', { title: 'v1' })
      await store.update('alice', chat.id, { title: 'v2' })
      expect(await store.history('alice', chat.id, { limit: 20 })).toEqual({ items: [], limit: 20, nextCursor: null })
    })
  })

  describe('idempotency keys', () => {
    const once = { key: 'k-1', fingerprint: 'f-1' }

    it('answers the kept create again for the same key and fingerprint, also after the chat changed or went; another fingerprint is keyReused', async () => {
      const store = await makeStore()
      const first = await store.createOnce('alice', { title: 'a' }, once)
      expect(first.replayed).toBe(false)
      await store.update('alice', first.chat.id, { title: 'changed' })
      expect(await store.createOnce('alice', { title: 'a' }, once)).toEqual({ chat: first.chat, replayed: true })
      await store.delete('alice', first.chat.id)
      expect(await store.createOnce('alice', { title: 'a' }, once)).toEqual({ chat: first.chat, replayed: true })
      await expectProblem(store.createOnce('alice', { title: 'b' }, { key: 'k-1', fingerprint: 'f-2' }), 'keyReused')
      // Keys are the owner's own.
      const bobs = await store.createOnce('bob', { title: 'a' }, once)
      expect(bobs.replayed).toBe(false)
      expect(bobs.chat.id).not.toBe(first.chat.id)
      expect(await store.count('alice')).toBe(0)
    })

    it('makes one chat of concurrent creates with one key: the others are in flight, with a retry-after', async () => {
      const store = await makeStore()
      const results = await Promise.allSettled(Array.from({ length: 10 }, async () => await store.createOnce('alice', { title: 'a' }, once)))
      const created = results.filter((r) => r.status === 'fulfilled')
      expect(created).toHaveLength(1)
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'keyInFlight', retryAfterSeconds: expect.any(Number) as unknown })
      }
      expect(await store.count('alice')).toBe(1)
      expect((await store.createOnce('alice', { title: 'a' }, once)).replayed).toBe(true)
    })

    it('keeps no key for a refused create, and forgets a key after its TTL', async () => {
      let now = FROZEN
      const store = await makeStore({ maxItems: 1, idempotencyTtlMs: 1000, now: () => now })
      await expectProblem(store.createOnce('alice', { title: ' ' }, once), 'invalid')
      await store.create('bob', { title: 'full' })
      await expectProblem(store.createOnce('alice', { title: 'a' }, once), 'capacity')
      await store.delete('bob', (await store.list('bob', { limit: 1 })).items[0]!.id)
      const made = await store.createOnce('alice', { title: 'a' }, once)
      expect(made.replayed).toBe(false)
      now += 999
      expect((await store.createOnce('alice', { title: 'a' }, once)).replayed).toBe(true)
      now += 1
      await store.delete('alice', made.chat.id)
      const again = await store.createOnce('alice', { title: 'a' }, once)
      expect(again.replayed).toBe(false)
      expect(again.chat.id).not.toBe(made.chat.id)
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
