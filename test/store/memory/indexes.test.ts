import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChatIndexes } from '../../../src/store/memory/indexes.js'
import { compareCodePoints, compareTitles, setTitleHeads, titleKey } from '../../../src/store/memory/sort-keys.js'
import type { ChatRecord } from '../../../src/store/records.js'

describe('compareTitles', () => {
  it('orders titles as their lower-cased keys compare by code point', () => {
    const unit = fc.constantFrom('a', 'B', 'z', 'Z', '0', ' ', '~', '\u007f', 'é', 'É', 'ß', 'İ', 'Σ', '日', '𝒳', '\uffff', '\u0080')
    const title = fc.string({ unit, maxLength: 8 })
    const sign = (n: number): number => Math.sign(n)
    fc.assert(fc.property(title, title, (x, y) => {
      expect(sign(compareTitles(x, y))).toBe(sign(compareCodePoints(titleKey(x), titleKey(y))))
      expect(sign(compareTitles(x, x.toUpperCase()))).toBe(sign(compareCodePoints(titleKey(x), titleKey(x.toUpperCase()))))
    }), { numRuns: 5000 })
    expect(compareTitles('Load test', 'load TEST')).toBe(0)
    expect(compareTitles('ab', 'abİ')).toBeLessThan(0)
    expect(compareTitles('Zeta', 'alpha')).toBeGreaterThan(0)
  })
})

describe('title order through the heads (ChatIndexes.titleOrder)', () => {
  const record = (id: string, title: string): ChatRecord =>
    ({ owner: 'default', id, title, description: '', priority: 'medium', isActive: true, createdAt: 1, updatedAt: 1, version: 1 })
  const sign = (n: number): number => Math.sign(n)

  it('orders any two titles as their keys compare by code point, around the 21 characters the heads hold', () => {
    const unit = fc.constantFrom('a', 'B', 'z', '0', ' ', '~', '\u0000', '\u007f', 'é', 'É', 'İ', 'K', 'Σ', '𝒳', '\uffff')
    // A shared start of 0-24 characters, then up to 4 more, so that keys differ before, at and after character 21.
    const pair = fc.tuple(fc.string({ unit, maxLength: 24 }), fc.string({ unit, maxLength: 4 }), fc.string({ unit, maxLength: 4 }))
    fc.assert(fc.property(pair, ([start, x, y]) => {
      const ix = new ChatIndexes()
      ix.add(record('a', start + x))
      ix.add(record('b', start + y))
      expect(sign(ix.titleOrder(0, 1))).toBe(sign(compareCodePoints(titleKey(start + x), titleKey(start + y))))
    }), { numRuns: 5000 })
  })

  it('decides most orders from the heads alone, and equal short titles as equal', () => {
    const heads = (title: string): number[] => { const out = new Float64Array(3); setTitleHeads(title, out, 0); return [...out] }
    expect(heads('Load test')).toEqual(heads('load TEST'))
    expect(heads('load test')[2]! % 2).toBe(0)
    expect(heads('a'.repeat(21))[2]! % 2).toBe(0)
    expect(heads('a'.repeat(22))[2]! % 2).toBe(1)
    expect(heads('é')[2]! % 2).toBe(1)
    expect(heads('Load test chat 12 ab')[2]).toBeLessThan(heads('Load test chat 13 ab')[2]!)
    expect(heads('ab')[0]).toBeLessThan(heads('ab\u0000')[0]!)
  })
})

describe('ChatIndexes', () => {
  const record = (id: string, title: string): ChatRecord =>
    ({ owner: 'default', id, title, description: '', priority: 'medium', isActive: true, createdAt: 1, updatedAt: 1, version: 1 })
  const order = (ix: ChatIndexes): string[] => {
    const ids: string[] = []
    ix.byPriority[1].walk(0, false, (slot) => { ids.push(ix.records[slot]!.id); return true })
    return ids
  }

  it('orders ties by id also when chats are not added in id order', () => {
    const ix = new ChatIndexes(4)
    for (const id of ['m', 'n', 'c', 'z', 'a', 'k']) ix.add(record(id, 'Same title'))
    expect(order(ix)).toEqual(['a', 'c', 'k', 'm', 'n', 'z'])
    const titled: string[] = []
    ix.byTitle.walk(0, false, (slot) => { titled.push(ix.records[slot]!.id); return true })
    expect(titled).toEqual(['a', 'c', 'k', 'm', 'n', 'z'])
    expect(ix.inIdOrder().map((r) => r.id)).toEqual(['a', 'c', 'k', 'm', 'n', 'z'])
    expect(ix.problems()).toEqual([])
  })

  it('orders ties by id through adds, removes and reused rows when ids ascend', () => {
    const ix = new ChatIndexes(4)
    const chats = new Map<string, ChatRecord>()
    for (let i = 0; i < 40; i++) {
      const r = record(`id-${String(i).padStart(3, '0')}`, i % 2 === 0 ? 'Even' : 'odd')
      ix.add(r)
      chats.set(r.id, r)
      if (i % 3 === 0) {
        const gone = chats.get(`id-${String(i >> 1).padStart(3, '0')}`)
        if (gone !== undefined) { ix.remove(gone); chats.delete(gone.id) }
      }
    }
    expect(order(ix)).toEqual([...chats.keys()].sort())
    expect(ix.inIdOrder()).toEqual([...chats.keys()].sort().map((id) => chats.get(id)))
    expect(ix.problems()).toEqual([])
    ix.seq[ix.byPriority[1].at(0)] = 1e9
    expect(ix.problems().join()).toMatch(/the order chats were added in disagrees with their ids/)
  })
})
