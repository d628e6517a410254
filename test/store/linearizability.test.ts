import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StoreError } from '../../src/store/errors.js'
import { DEFAULT_OWNER, type Chat, type ChatInput, type ChatPatch, type Priority } from '../../src/store/types.js'
import { createIdGenerator } from '../../src/store/ids.js'
import { createMemoryStore, type MemoryStore, estimateBytes } from '../../src/store/memory/memory-store.js'

/**
 * Model-based proof that the in-memory store is linearizable: random operations run concurrently,
 * fast-check's scheduler picks when each one starts and when its answer is delivered, and a
 * Wing–Gong search looks for one sequential order of them that respects real time (an operation
 * answered before another started comes first) and in which a simple sequential model gives every
 * answer the store gave.
 */

const MISSING_ID = createIdGenerator()()

type Op =
  | { kind: 'create', input: ChatInput }
  | { kind: 'get', target: number }
  | { kind: 'list', limit: number, offset: number }
  | { kind: 'update', target: number, patch: ChatPatch, ifVersion: number | undefined }
  | { kind: 'replace', target: number, input: ChatInput, ifVersion: number | undefined }
  | { kind: 'delete', target: number, ifVersion: number | undefined }

type Outcome = { ok: true, value: unknown } | { ok: false, kind: string }

interface Entry { op: Op, inv: number, res: number, outcome: Outcome }

interface ModelChat { id: string, title: string, description: string, priority: Priority, isActive: boolean, version: number, createdAt: string, updatedAt: string }

/** The sequential model: chats in creation (= id) order, the bytes the memory guard counts, the limits. */
interface Model { chats: ModelChat[], lastId: string, maxItems: number, maxBytes: number }

const bytesOf = (chats: ModelChat[]): number => chats.reduce((sum, c) => sum + estimateBytes(c.title, c.description), 0)
const failure = (kind: string): Outcome => ({ ok: false, kind })
const sameError = (outcome: Outcome, kind: string): boolean => !outcome.ok && outcome.kind === kind
const asChat = (c: ModelChat): Chat => ({ ...c })

/** The model after `op`, when `op` done now would answer `outcome`; undefined when it would not. */
function step (model: Model, op: Op, outcome: Outcome, ids: string[]): Model | undefined {
  if (op.kind === 'create') {
    const fields = { title: op.input.title.trim(), description: op.input.description ?? '', priority: op.input.priority ?? 'medium', isActive: op.input.isActive ?? true }
    const full = model.chats.length >= model.maxItems ||
      bytesOf(model.chats) + estimateBytes(fields.title, fields.description) > model.maxBytes
    if (full) return sameError(outcome, 'capacity') ? model : undefined
    if (!outcome.ok) return undefined
    const chat = outcome.value as Chat
    const { id, createdAt, updatedAt, version, ...rest } = chat
    if (id <= model.lastId || version !== 1 || updatedAt !== createdAt || JSON.stringify(rest) !== JSON.stringify(fields)) return undefined
    return { ...model, chats: [...model.chats, { ...chat }], lastId: id }
  }
  if (op.kind === 'list') {
    if (!outcome.ok) return undefined
    const page = outcome.value as { items: Chat[], total: number }
    const expected = model.chats.slice(op.offset, op.offset + op.limit).map(asChat)
    return page.total === model.chats.length && JSON.stringify(page.items) === JSON.stringify(expected) ? model : undefined
  }
  const id = ids[op.target] ?? MISSING_ID
  const at = model.chats.findIndex((c) => c.id === id)
  const current = model.chats[at]
  if (op.kind === 'get') {
    if (!outcome.ok) return undefined
    return JSON.stringify(outcome.value) === JSON.stringify(current === undefined ? undefined : asChat(current)) ? model : undefined
  }
  if (current === undefined) return sameError(outcome, 'notFound') ? model : undefined
  if (op.ifVersion !== undefined && op.ifVersion !== current.version) return sameError(outcome, 'versionMismatch') ? model : undefined
  if (op.kind === 'delete') {
    return outcome.ok ? { ...model, chats: model.chats.filter((c) => c.id !== id) } : undefined
  }
  const next = op.kind === 'update'
    ? { title: op.patch.title?.trim() ?? current.title, description: op.patch.description ?? current.description, priority: op.patch.priority ?? current.priority, isActive: op.patch.isActive ?? current.isActive }
    : { title: op.input.title.trim(), description: op.input.description ?? '', priority: op.input.priority ?? 'medium', isActive: op.input.isActive ?? true }
  const grows = estimateBytes(next.title, next.description) - estimateBytes(current.title, current.description)
  if (grows > 0 && bytesOf(model.chats) + grows > model.maxBytes) return sameError(outcome, 'capacity') ? model : undefined
  if (!outcome.ok) return undefined
  const chat = outcome.value as Chat
  const expected = { ...current, ...next, version: current.version + 1, updatedAt: chat.updatedAt }
  if (chat.updatedAt <= current.updatedAt || JSON.stringify(chat) !== JSON.stringify(expected)) return undefined
  const chats = [...model.chats]
  chats[at] = { ...chat }
  return { ...model, chats }
}

/** Wing–Gong: is there an order of `history`, respecting real time, in which the model gives every outcome? */
function linearizable (history: Entry[], initial: Model, ids: string[]): boolean {
  const done = history.map(() => false)
  const dead = new Set<string>()
  const search = (model: Model, left: number): boolean => {
    if (left === 0) return true
    const key = `${done.map(Number).join('')}|${JSON.stringify(model.chats)}`
    if (dead.has(key)) return false
    let firstAnswer = Infinity
    history.forEach((e, i) => { if (!done[i]) firstAnswer = Math.min(firstAnswer, e.res) })
    for (let i = 0; i < history.length; i++) {
      const e = history[i]!
      if (done[i] === true || e.inv > firstAnswer) continue
      const next = step(model, e.op, e.outcome, ids)
      if (next === undefined) continue
      done[i] = true
      if (search(next, left - 1)) return true
      done[i] = false
    }
    dead.add(key)
    return false
  }
  return search(initial, history.length)
}

const title = fc.stringMatching(/^ ?[a-z]{1,8} ?$/)
const description = fc.stringMatching(/^[a-z ]{0,40}$/)
const priority = fc.constantFrom<Priority>('low', 'medium', 'high')
const input: fc.Arbitrary<ChatInput> = fc.record({ title, description, priority, isActive: fc.boolean() }, { requiredKeys: ['title'] })
const patch: fc.Arbitrary<ChatPatch> = fc.record({ title, description, priority, isActive: fc.boolean() }, { requiredKeys: [] })
  .filter((p) => Object.keys(p).length > 0)
const INITIAL = 3
const target = fc.nat({ max: INITIAL }) // INITIAL itself names a chat that never existed
const ifVersion = fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), input }),
  fc.record({ kind: fc.constant('get' as const), target }),
  fc.record({ kind: fc.constant('list' as const), limit: fc.integer({ min: 1, max: 4 }), offset: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('update' as const), target, patch, ifVersion }),
  fc.record({ kind: fc.constant('replace' as const), target, input, ifVersion }),
  fc.record({ kind: fc.constant('delete' as const), target, ifVersion })
)

async function invoke (store: MemoryStore, op: Op, ids: string[]): Promise<unknown> {
  const id = op.kind === 'create' || op.kind === 'list' ? '' : ids[op.target] ?? MISSING_ID
  const options = { ifVersion: 'ifVersion' in op && op.ifVersion !== undefined ? [op.ifVersion] : undefined }
  switch (op.kind) {
    case 'create': return await store.create(DEFAULT_OWNER, op.input)
    case 'get': return await store.get(DEFAULT_OWNER, id)
    case 'list': return await store.list(DEFAULT_OWNER, { limit: op.limit, offset: op.offset })
    case 'update': return await store.update(DEFAULT_OWNER, id, op.patch, options)
    case 'replace': return await store.replace(DEFAULT_OWNER, id, op.input, options)
    case 'delete':
      await store.delete(DEFAULT_OWNER, id, options)
      return undefined
  }
}

async function outcomeOf (call: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await call }
  } catch (err) {
    if (err instanceof StoreError) return failure(err.code)
    throw err
  }
}

describe('the memory store is linearizable', () => {
  it('under random interleavings of concurrent creates, reads, lists, updates, replaces and deletes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.scheduler(), fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), fc.nat({ max: 2 }), fc.nat({ max: 400 }),
      async (s, bursts, spareItems, spareBytes) => {
        const seeds = Array.from({ length: INITIAL }, (_, i) => ({ title: `seed ${i}` }))
        const maxBytes = seeds.reduce((sum, seed) => sum + estimateBytes(seed.title, ''), 0) + spareBytes
        const store = createMemoryStore({ maxItems: INITIAL + spareItems, maxBytes, lockTimeoutMs: 60_000, detectReentrance: true })
        const seeded: Chat[] = []
        for (const seed of seeds) seeded.push(await store.create(DEFAULT_OWNER, seed))
        const ids = seeded.map((c) => c.id)
        const chats = seeded.map((c) => ({ ...c }))

        let clock = 0
        const history: Entry[] = []
        const answered: Promise<void>[] = []
        // The scheduler picks when each burst starts and when each answer is delivered; the
        // operations of one burst start in the same tick, truly at once.
        const started = bursts.map(async (burst, b) => {
          await s.schedule(Promise.resolve(), `burst ${b}: ${burst.map((o) => o.kind).join(', ')}`)
          for (const [i, o] of burst.entries()) {
            const inv = clock++
            answered.push(s.schedule(outcomeOf(invoke(store, o, ids)), `answer ${b}.${i}`).then((outcome) => {
              history.push({ op: o, inv, res: clock++, outcome })
            }))
          }
        })
        await s.waitIdle()
        await Promise.all(started)
        await Promise.all(answered)

        expect(linearizable(history, { chats, lastId: ids.at(-1)!, maxItems: INITIAL + spareItems, maxBytes }, ids)).toBe(true)
        await store.backend.checkInvariants()
      }
    ), { numRuns: 150 })
  })

  it('the checker refuses a history no sequential order explains', () => {
    const initial: Model = { chats: [], lastId: '', maxItems: 10, maxBytes: 1e6 }
    const chat: Chat = { id: 'a', title: 'x', description: '', priority: 'medium', isActive: true, createdAt: 't', updatedAt: 't', version: 1 }
    const created: Entry = { op: { kind: 'create', input: { title: 'x' } }, inv: 0, res: 1, outcome: { ok: true, value: chat } }
    // A read that began after the create was answered cannot miss the chat...
    const staleRead: Entry = { op: { kind: 'list', limit: 5, offset: 0 }, inv: 2, res: 3, outcome: { ok: true, value: { items: [], total: 0 } } }
    expect(linearizable([created, staleRead], initial, [])).toBe(false)
    // ...while one that overlapped it may have come first.
    expect(linearizable([created, { ...staleRead, inv: 0.5 }], initial, [])).toBe(true)
  })
})
