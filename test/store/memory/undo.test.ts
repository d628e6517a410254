import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ChatStore } from '../../../src/store/chat-store.js'
import { DEFAULT_OWNER, type Chat } from '../../../src/store/types.js'
import { createMemoryStore } from '../../../src/store/memory/memory-store.js'
import type { Change, ChatRecord } from '../../../src/store/records.js'

async function everything (store: ChatStore): Promise<{ chats: Chat[], bytes: number }> {
  const page = await store.list(DEFAULT_OWNER, { limit: 1000, offset: 0 })
  return { chats: page.items.map((c) => ({ ...c })), bytes: (await store.health()).bytes ?? 0 }
}

type Op =
  | { kind: 'create', title: string, priority: 'low' | 'high' }
  | { kind: 'update', at: number, title: string }
  | { kind: 'replace', at: number, priority: 'low' | 'medium' }
  | { kind: 'delete', at: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), title: fc.constantFrom('alpha', 'beta words', 'gamma'), priority: fc.constantFrom('low' as const, 'high' as const) }),
  fc.record({ kind: fc.constant('update' as const), at: fc.nat(), title: fc.constantFrom('delta', 'alpha again') }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), priority: fc.constantFrom('low' as const, 'medium' as const) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() })
)

/** `undo`: the durable store's log takes back the changes of a write that failed. */
describe('memory store undo', () => {
  it('takes back the latest changes, newest first, leaving the store and its indexes as before them', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 12 }), fc.array(op, { minLength: 1, maxLength: 12 }), async (setup, taken) => {
      let logging = false
      const changes: { change: Change, before: ChatRecord | undefined }[] = []
      let t = 1_700_000_000_000
      const store = createMemoryStore({ maxItems: 1000, maxBytes: 0, lockTimeoutMs: 60_000, now: () => t++, journal: { append: (change, before) => { if (logging) changes.push({ change, before }) } } })
      const ids: string[] = []
      const run = async (o: Op): Promise<void> => {
        const id = ids.length === 0 ? 'none' : ids['at' in o ? o.at % ids.length : 0]!
        try {
          if (o.kind === 'create') ids.push((await store.create(DEFAULT_OWNER, { title: o.title, priority: o.priority })).id)
          else if (o.kind === 'update') await store.update(DEFAULT_OWNER, id, { title: o.title })
          else if (o.kind === 'replace') await store.replace(DEFAULT_OWNER, id, { title: 'replaced', priority: o.priority })
          else await store.delete(DEFAULT_OWNER, id)
        } catch { /* a write to a deleted or missing chat: 404, nothing logged */ }
      }
      for (const o of setup) await run(o)
      const before = await everything(store)
      logging = true
      for (const o of taken) await run(o)
      store.backend.undo(changes)
      expect(await everything(store)).toEqual(before)
      for (const term of ['alpha', 'delta', 'words', 'replaced']) {
        expect((await store.list(DEFAULT_OWNER, { limit: 1000, offset: 0, q: term })).items.map((c) => c.id))
          .toEqual(before.chats.filter((c) => c.title.includes(term)).map((c) => c.id))
      }
      await store.backend.checkInvariants()
    }))
  })
})
