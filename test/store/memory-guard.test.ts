import { describe, expect, it } from 'vitest'
import { AppError } from '../../src/errors.js'
import { MemoryChatStore, RECORD_OVERHEAD_BYTES, estimateBytes } from '../../src/store/memory/memory-store.js'

const store = (maxBytes: number): MemoryChatStore =>
  new MemoryChatStore({ maxItems: 1000, maxBytes, lockTimeoutMs: 1000, detectReentrance: true })

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
    const a = await s.create({ title: 'a', description: 'first' })
    const b = await s.create({ title: '会議', description: '' })
    expect(s.stats().bytes).toBe(estimateBytes('a', 'first') + estimateBytes('会議', ''))
    await s.update(a.id, { description: 'a much longer description' })
    await s.replace(b.id, { title: 'b' })
    expect(s.stats().bytes).toBe(estimateBytes('a', 'a much longer description') + estimateBytes('b', ''))
    await s.checkInvariants()
    await s.delete(a.id)
    await s.delete(b.id)
    expect(s.stats()).toMatchObject({ items: 0, bytes: 0 })
  })

  it('refuses what would pass the budget and changes nothing then; shrinking and deleting always work', async () => {
    const budget = estimateBytes('a', '1234567890') * 2
    const s = store(budget)
    const a = await s.create({ title: 'a', description: '1234567890' })
    await s.create({ title: 'b', description: '1234567890' })
    expect(s.stats().bytes).toBe(budget)
    const refused = await s.create({ title: 'c' }).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(AppError)
    expect(refused).toMatchObject({ kind: 'capacityExceeded', status: 507 })
    await expect(s.update(a.id, { description: '12345678901' })).rejects.toMatchObject({ kind: 'capacityExceeded' })
    await expect(s.update(a.id, { title: '会' })).rejects.toMatchObject({ kind: 'capacityExceeded' })
    expect(await s.get(a.id)).toMatchObject({ version: 1, description: '1234567890' })
    expect(s.stats().bytes).toBe(budget)

    await expect(s.update(a.id, { description: '123' })).resolves.toMatchObject({ version: 2 })
    await expect(s.update(a.id, { description: '1234567890' })).resolves.toMatchObject({ version: 3 })
    await s.delete(a.id)
    await expect(s.create({ title: 'c' })).resolves.toMatchObject({ title: 'c' })
    await s.checkInvariants()
  })

  it('names every disagreement when the invariants are broken', async () => {
    const s = store(0)
    await s.create({ title: 'a' })
    Reflect.set(s, 'bytes', 1)
    await expect(s.checkInvariants()).rejects.toThrow(/the byte count is 1, the chats add up to \d+/)
  })
})
