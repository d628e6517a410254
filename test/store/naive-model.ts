import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_OWNER, PRIORITIES, type Chat, type ListQuery } from '../../src/store/types.js'
import { StoreError } from '../../src/store/errors.js'
import type { MakeStore } from './backend-suite.js'
import { BASE, clean, COMMAND, sometimes, SORT, WORD } from './arbitraries.js'
import { naiveList } from './memory/naive.js'

/**
 * Random writes through a store, the same writes to a plain map, then random list queries: every
 * page (by offset, then on by cursor) must be what the naive filter-sort-slice of the map gives.
 */
const QUERY = fc.record({
  priority: sometimes(fc.subarray([...PRIORITIES], { minLength: 1 })),
  isActive: sometimes(fc.boolean()),
  createdFrom: sometimes(fc.integer({ min: -1, max: 30 }).map((d) => BASE + d)),
  createdTo: sometimes(fc.integer({ min: -1, max: 30 }).map((d) => BASE + d)),
  q: sometimes(fc.oneof(WORD, fc.constantFrom('caf', 'proj upd', 'strasse', 'x'))),
  sort: SORT,
  limit: fc.integer({ min: 1, max: 7 }),
  offset: sometimes(fc.integer({ min: 0, max: 12 }))
}, { requiredKeys: ['limit'] })


export function describeNaiveModel (name: string, makeStore: MakeStore): void {
  describe(`the store on the ${name} backend against the naive model`, () => {
    it('answers every list query as the naive reference does, after any sequence of writes', async () => {
      await fc.assert(fc.asyncProperty(
        fc.array(COMMAND, { minLength: 10, maxLength: 60 }), fc.array(QUERY, { minLength: 1, maxLength: 6 }),
        async (commands, queries) => {
          let t = BASE
          const store = await makeStore({ now: () => t })
          const model = new Map<string, Chat>()
          const pick = (n: number): string | undefined => [...model.keys()][n % Math.max(1, model.size)]
          for (const c of commands) {
            if (c.kind === 'tick') { t += c.ms; continue }
            if (c.kind === 'create') { const chat = await store.create(DEFAULT_OWNER, c.input); model.set(chat.id, chat); continue }
            const id = pick(c.pick)
            if (id === undefined) continue
            if (c.kind === 'delete') { await store.delete(DEFAULT_OWNER, id); model.delete(id) }
            if (c.kind === 'update' && Object.keys(clean(c.patch)).length > 0) model.set(id, await store.update(DEFAULT_OWNER, id, clean(c.patch)))
            if (c.kind === 'replace') model.set(id, await store.replace(DEFAULT_OWNER, id, c.input))
          }
          expect(await store.count(DEFAULT_OWNER)).toBe(model.size)
          for (const id of model.keys()) expect(await store.get(DEFAULT_OWNER, id)).toEqual(model.get(id))
          for (const raw of queries) {
            const query: ListQuery = clean(raw)
            const expected = naiveList(model.values(), query)
            const from = query.offset ?? 0
            const page = await store.list(DEFAULT_OWNER, query)
            expect(page.items).toEqual(expected.slice(from, from + query.limit))
            expect(page.total).toBe(expected.length)
            const seen = [...page.items]
            for (let cursor = page.nextCursor; cursor !== null;) {
              const next = await store.list(DEFAULT_OWNER, { ...query, offset: undefined, cursor })
              expect(next.total).toBe(expected.length)
              seen.push(...next.items)
              cursor = next.nextCursor
            }
            expect(seen.map((c) => c.id)).toEqual(expected.slice(from).map((c) => c.id))
          }
          await store.close()
        }
      ), { numRuns: 40 })
    })

    it('keeps owners apart: no answer shows or changes another owner\'s chat, lists and cursors cover the caller\'s chats only', async () => {
      const OWNERS = ['alice', 'bob', 'carol'] as const
      const OWNED = fc.record({ by: fc.constantFrom(...OWNERS), command: COMMAND, target: fc.constantFrom(...OWNERS) })
      await fc.assert(fc.asyncProperty(
        fc.array(OWNED, { minLength: 10, maxLength: 60 }), fc.array(QUERY, { minLength: 1, maxLength: 3 }),
        async (steps, queries) => {
          let t = BASE
          const store = await makeStore({ now: () => t })
          const models = new Map<string, Map<string, Chat>>(OWNERS.map((o) => [o, new Map()]))
          const model = (owner: string): Map<string, Chat> => models.get(owner)!
          const pick = (owner: string, n: number): string | undefined => [...model(owner).keys()][n % Math.max(1, model(owner).size)]
          for (const { by, command: c, target } of steps) {
            if (c.kind === 'tick') { t += c.ms; continue }
            if (c.kind === 'create') { const chat = await store.create(by, c.input); model(by).set(chat.id, chat); continue }
            // The chat of `target`, asked for by `by`: another owner's is not there for the caller.
            const id = pick(target, c.pick)
            if (id === undefined) continue
            const mine = target === by
            const version = model(target).get(id)!.version
            const outcome = async (call: Promise<unknown>): Promise<Chat | undefined | 'notFound'> =>
              await call.then((v) => (v ?? undefined) as Chat | undefined, (err: unknown) => {
                if (err instanceof StoreError && err.code === 'notFound') return 'notFound' as const
                throw err
              })
            let answer: Chat | undefined | 'notFound'
            if (c.kind === 'delete') answer = await outcome(store.delete(by, id, { ifVersion: [version] }))
            else if (c.kind === 'replace') answer = await outcome(store.replace(by, id, c.input, { ifVersion: [version] }))
            else if (Object.keys(clean(c.patch)).length > 0) answer = await outcome(store.update(by, id, clean(c.patch)))
            else answer = await outcome(store.get(by, id))
            if (!mine) {
              // Not found, whatever If-Match says; a read answers nothing.
              expect(answer === 'notFound' || answer === undefined).toBe(true)
              continue
            }
            expect(answer).not.toBe('notFound')
            if (c.kind === 'delete') model(by).delete(id)
            else if (answer !== undefined && answer !== 'notFound') model(by).set(id, answer)
          }
          for (const owner of OWNERS) {
            expect(await store.count(owner)).toBe(model(owner).size)
            for (const [id, chat] of model(owner)) expect(await store.get(owner, id)).toEqual(chat)
            for (const raw of queries) {
              const query: ListQuery = clean(raw)
              const expected = naiveList(model(owner).values(), query)
              const from = query.offset ?? 0
              const page = await store.list(owner, query)
              expect(page.items).toEqual(expected.slice(from, from + query.limit))
              expect(page.total).toBe(expected.length)
              if (page.nextCursor !== null) {
                for (const other of OWNERS) {
                  if (other === owner) continue
                  const err = await store.list(other, { ...query, offset: undefined, cursor: page.nextCursor }).then(() => undefined, (e: unknown) => e)
                  expect(err).toMatchObject({ code: 'invalid', fields: [expect.objectContaining({ field: '/cursor' })] })
                }
              }
            }
          }
          expect(await store.count('nobody')).toBe(0)
          expect((await store.list('nobody', { limit: 5 })).total).toBe(0)
          expect((await store.health()).items).toBe(OWNERS.reduce((n, o) => n + model(o).size, 0))
          await store.close()
        }
      ), { numRuns: 40 })
    })

    it('keeps a feed per owner: replaying an owner\'s feed from the start rebuilds exactly that owner\'s chats, and holds no other owner\'s change', async () => {
      const OWNERS = ['alice', 'bob', 'carol'] as const
      const OWNED = fc.record({ by: fc.constantFrom(...OWNERS), command: COMMAND, pageSize: fc.integer({ min: 1, max: 7 }) })
      await fc.assert(fc.asyncProperty(fc.array(OWNED, { minLength: 10, maxLength: 80 }), async (steps) => {
        let t = BASE
        const store = await makeStore({ now: () => t })
        const models = new Map<string, Map<string, Chat>>(OWNERS.map((o) => [o, new Map()]))
        const created = new Map<string, string>()
        for (const { by, command: c } of steps) {
          const model = models.get(by)!
          if (c.kind === 'tick') { t += c.ms; continue }
          if (c.kind === 'create') {
            const chat = await store.create(by, c.input)
            model.set(chat.id, chat)
            created.set(chat.id, by)
            continue
          }
          const id = [...model.keys()][c.pick % Math.max(1, model.size)]
          if (id === undefined) continue
          if (c.kind === 'delete') { await store.delete(by, id); model.delete(id) }
          if (c.kind === 'update' && Object.keys(clean(c.patch)).length > 0) model.set(id, await store.update(by, id, clean(c.patch)))
          if (c.kind === 'replace') model.set(id, await store.replace(by, id, c.input))
        }
        const pageSize = steps[0]!.pageSize
        for (const owner of OWNERS) {
          const rebuilt = new Map<string, Chat>()
          let after: string | undefined
          let previous = ''
          for (;;) {
            const page = await store.changes(owner, after, pageSize)
            for (const change of page.items) {
              expect(created.get(change.id)).toBe(owner)
              expect(change.seq > previous).toBe(true)
              previous = change.seq
              if (change.type === 'deleted') {
                expect(rebuilt.get(change.id)?.version).toBe(change.version)
                rebuilt.delete(change.id)
              } else {
                expect(change.chat).toMatchObject({ id: change.id, version: change.version, updatedAt: change.at })
                expect(change.type === 'created').toBe(change.version === 1)
                rebuilt.set(change.id, change.chat!)
              }
            }
            if (page.items.length === 0) break
            after = page.nextAfter
          }
          expect(rebuilt).toEqual(models.get(owner))
        }
        await store.close()
      }), { numRuns: 40 })
    })
  })
}
