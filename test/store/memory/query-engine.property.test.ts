import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_OWNER, PRIORITIES, type Chat, type ListQuery } from '../../../src/store/types.js'
import { decodeIndexImage, encodeIndexImage } from '../../../src/store/durable/index-codec.js'
import type { IndexCapture } from '../../../src/store/memory/index-image.js'
import { createMemoryStore } from '../../../src/store/memory/memory-store.js'
import type { Change, ChatRecord } from '../../../src/store/records.js'
import { BASE, clean, COMMAND, sometimes, SORT, WORD } from '../arbitraries.js'
import { naiveList } from './naive.js'

const FILTERS = fc.record({
  priority: sometimes(fc.subarray([...PRIORITIES], { minLength: 1 })),
  isActive: sometimes(fc.boolean()),
  createdFrom: sometimes(fc.integer({ min: -1, max: 30 }).map((d) => BASE + d)),
  createdTo: sometimes(fc.integer({ min: -1, max: 30 }).map((d) => BASE + d)),
  q: sometimes(fc.oneof(WORD, fc.constantFrom('caf', 'CAFE', 'proj upd', 'p', 'x', 'snake case', 'nai', 'STRASSE', 'strasse', 'ωm', '𝒳', 'full', 'ü z'))),
  sort: SORT
}, { requiredKeys: [] })

const QUERY = fc.record({
  filters: FILTERS,
  limit: fc.integer({ min: 1, max: 7 }),
  offset: sometimes(fc.integer({ min: 0, max: 12 })),
  /** Limits of the pages after the first, when paging by cursor. */
  cursorLimits: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 })
})


describe('query engine against a naive filter and sort', () => {
  it('answers every query as the naive reference does, after any sequence of writes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(2, 3, 8, 1024), fc.array(COMMAND, { minLength: 20, maxLength: 100, size: 'max' }), fc.array(QUERY, { minLength: 1, maxLength: 8, size: 'max' }),
      async (chunk, commands, queries) => {
        let t = BASE
        // The changes after the halfway cut, as a log replays them on the snapshot's saved indexes.
        const tail: Change[] = []
        let logging = false
        const journal = { append: (change: Change) => { if (logging) tail.push(change) } }
        const store = createMemoryStore({ maxItems: 10_000, maxBytes: 0, lockTimeoutMs: 60_000, now: () => t, indexChunk: chunk, journal })
        const model = new Map<string, Chat>()
        const pick = (n: number): string | undefined => [...model.keys()][n % Math.max(1, model.size)]
        let cut: { chats: ChatRecord[], capture: IndexCapture } | undefined
        for (const [i, c] of commands.entries()) {
          if (i === commands.length >> 1) {
            cut = await store.backend.withAll((chats, image) => ({ chats: [...chats.values()], capture: image()! }))
            logging = true
          }
          if (c.kind === 'tick') { t += c.ms; continue }
          if (c.kind === 'create') { const chat = await store.create(DEFAULT_OWNER, c.input); model.set(chat.id, chat); continue }
          const id = pick(c.pick)
          if (id === undefined) continue
          if (c.kind === 'delete') { await store.delete(DEFAULT_OWNER, id); model.delete(id) }
          if (c.kind === 'update' && Object.keys(clean(c.patch)).length > 0) model.set(id, await store.update(DEFAULT_OWNER, id, clean(c.patch)))
          if (c.kind === 'replace') model.set(id, await store.replace(DEFAULT_OWNER, id, c.input))
        }
        await store.backend.checkInvariants()
        // Recovery's bulk build from the same chats must answer exactly as the store built write by write.
        const restored = createMemoryStore({ maxItems: 10_000, maxBytes: 0, lockTimeoutMs: 60_000, indexChunk: chunk })
        const chats = await store.backend.withAll((all) => all)
        restored.backend.restore(chats)
        await restored.backend.checkInvariants()
        // So must the indexes a snapshot saved (through its codec), with the later changes applied one by one.
        const image = decodeIndexImage(Buffer.concat((await encodeIndexImage(cut!.capture, cut!.chats))!), cut!.chats)
        const imaged = createMemoryStore({ maxItems: 10_000, maxBytes: 0, lockTimeoutMs: 60_000, indexChunk: chunk })
        imaged.backend.restoreImage(image, tail)
        await imaged.backend.checkInvariants()
        expect(await imaged.backend.withAll((all) => all)).toEqual(chats)
        for (const { filters, limit, offset, cursorLimits } of queries) {
          const query: ListQuery = clean({ ...filters, limit, offset })
          const expected = naiveList(model.values(), query)
          const page = await store.list(DEFAULT_OWNER, query)
          const from = offset ?? 0
          expect(page.items).toEqual(expected.slice(from, from + limit))
          expect(page.total).toBe(expected.length)
          expect(page.offset).toBe(from)
          expect(page.nextCursor === null).toBe(from + limit >= expected.length)
          const again = await restored.list(DEFAULT_OWNER, query)
          expect(again.items).toEqual(page.items)
          expect(again.total).toBe(page.total)
          const fromImage = await imaged.list(DEFAULT_OWNER, query)
          expect(fromImage.items).toEqual(page.items)
          expect(fromImage.total).toBe(page.total)

          // Then on by cursor to the end, with changing limits: the rest, in order, once each.
          const seen = [...page.items]
          let cursor = page.nextCursor
          for (let i = 0; cursor !== null; i++) {
            const next = await store.list(DEFAULT_OWNER, clean({ ...filters, limit: cursorLimits[i % cursorLimits.length]!, cursor }))
            expect(next.offset).toBeUndefined()
            expect(next.total).toBe(expected.length)
            seen.push(...next.items)
            cursor = next.nextCursor
            expect(cursor === null).toBe(from + seen.length >= expected.length)
          }
          expect(seen.map((c) => c.id)).toEqual(expected.slice(from).map((c) => c.id))
        }
      }
    ), { numRuns: 150 })
  })
})
