import { describe, expect, it } from 'vitest'
import { StoreError } from '../../src/store/errors.js'
import { createMemoryStore, type MemoryStore, RECORD_OVERHEAD_BYTES, estimateBytes } from '../../src/store/memory/memory-store.js'
import { DEFAULT_OWNER } from '../../src/store/types.js'

const store = (maxBytes: number): MemoryStore =>
  createMemoryStore({ maxItems: 1000, maxBytes, lockTimeoutMs: 1000, detectReentrance: true })

describe('the memory guard\'s accounting', () => {
  it('estimates strings as V8 keeps them: one byte a Latin-1 character, two otherwise', () => {
    expect(estimateBytes('', '')).toBe(RECORD_OVERHEAD_BYTES)
    expect(estimateBytes('Café', 'abc')).toBe(RECORD_OVERHEAD_BYTES + 4 + 3)
    expect(estimateBytes('会議', 'abc')).toBe(RECORD_OVERHEAD_BYTES + 4 + 3)
    expect(estimateBytes('Plan 🚀', '')).toBe(RECORD_OVERHEAD_BYTES + 2 * 'Plan 🚀'.length)
    expect(estimateBytes('x', 'y'.repeat(100))).toBe(estimateBytes('x', 'y'.repeat(100)))
  })

  it('keeps the count as chats come and go, back to zero when the store is empty', async () => {
    const s = store(0)
    const a = await s.create(DEFAULT_OWNER, { title: 'a', description: 'first' })
    const b = await s.create(DEFAULT_OWNER, { title: '会議', description: '' })
    expect((await s.health()).bytes).toBe(estimateBytes('a', 'first') + estimateBytes('会議', ''))
    await s.update(DEFAULT_OWNER, a.id, { description: 'a much longer description' })
    await s.replace(DEFAULT_OWNER, b.id, { title: 'b' })
    expect((await s.health()).bytes).toBe(estimateBytes('a', 'a much longer description') + estimateBytes('b', ''))
    await s.backend.checkInvariants()
    await s.delete(DEFAULT_OWNER, a.id)
    await s.delete(DEFAULT_OWNER, b.id)
    expect((await s.health())).toMatchObject({ items: 0, bytes: 0 })
  })

  it('refuses what would pass the budget and changes nothing then; shrinking and deleting always work', async () => {
    const budget = estimateBytes('a', '1234567890') * 2
    const s = store(budget)
    const a = await s.create(DEFAULT_OWNER, { title: 'a', description: '1234567890' })
    await s.create(DEFAULT_OWNER, { title: 'b', description: '1234567890' })
    expect((await s.health()).bytes).toBe(budget)
    const refused = await s.create(DEFAULT_OWNER, { title: 'c' }).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(StoreError)
    expect(refused).toMatchObject({ code: 'capacity' })
    await expect(s.update(DEFAULT_OWNER, a.id, { description: '12345678901' })).rejects.toMatchObject({ code: 'capacity' })
    await expect(s.update(DEFAULT_OWNER, a.id, { title: '会' })).rejects.toMatchObject({ code: 'capacity' })
    expect(await s.get(DEFAULT_OWNER, a.id)).toMatchObject({ version: 1, description: '1234567890' })
    expect((await s.health()).bytes).toBe(budget)

    await expect(s.update(DEFAULT_OWNER, a.id, { description: '123' })).resolves.toMatchObject({ version: 2 })
    await expect(s.update(DEFAULT_OWNER, a.id, { description: '1234567890' })).resolves.toMatchObject({ version: 3 })
    await s.delete(DEFAULT_OWNER, a.id)
    await expect(s.create(DEFAULT_OWNER, { title: 'c' })).resolves.toMatchObject({ title: 'c' })
    await s.backend.checkInvariants()
  })

  it('names every disagreement when the invariants are broken', async () => {
    const s = store(0)
    await s.create(DEFAULT_OWNER, { title: 'a' })
    Reflect.set(s.backend, 'bytes', 1)
    await expect(s.backend.checkInvariants()).rejects.toThrow(/the byte count is 1, the chats add up to \d+/)
  })
})
