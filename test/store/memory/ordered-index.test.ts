import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { OrderedIndex } from '../../../src/store/memory/ordered-index.js'

/** Slots with keys that repeat, ordered by (key, slot) as the store orders by (key, id). */
function indexOver (keys: number[], chunk: number): OrderedIndex {
  return new OrderedIndex((a, b) => keys[a]! - keys[b]! || a - b, chunk)
}

function contents (index: OrderedIndex, descending = false): number[] {
  const out: number[] = []
  index.walk(descending ? index.size - 1 : 0, descending, (slot) => { out.push(slot); return true })
  return out
}

describe('OrderedIndex', () => {
  it('keeps the order of a sorted array through any inserts and removes, with any chunk size', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 16 }),
      fc.array(fc.tuple(fc.boolean(), fc.nat(199), fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 400 }),
      fc.integer({ min: -1, max: 21 }),
      (chunk, ops, probeKey) => {
        const keys: number[] = []
        const index = indexOver(keys, chunk)
        const present = new Set<number>()
        for (const [insert, slot, key] of ops) {
          if (insert && !present.has(slot)) {
            keys[slot] = key
            index.insert(slot)
            present.add(slot)
          } else if (!insert && present.has(slot)) {
            index.remove(slot)
            present.delete(slot)
          }
        }
        const expected = [...present].sort((a, b) => keys[a]! - keys[b]! || a - b)
        expect(index.size).toBe(expected.length)
        expect(contents(index)).toEqual(expected)
        expect(contents(index, true)).toEqual([...expected].reverse())
        expected.forEach((slot, rank) => { expect(index.at(rank)).toBe(slot) })
        expect(index.at(expected.length)).toBe(-1)
        expect(index.at(-1)).toBe(-1)
        // rankOf: the first entry whose key is not below the probe; strict: the first above it.
        expect(index.rankOf((s) => keys[s]! - probeKey)).toBe(expected.filter((s) => keys[s]! < probeKey).length)
        expect(index.rankOf((s) => keys[s]! - probeKey, true)).toBe(expected.filter((s) => keys[s]! <= probeKey).length)
        // A walk from the middle stops when told.
        const mid = expected.length >> 1
        const part: number[] = []
        index.walk(mid, false, (slot) => { part.push(slot); return part.length < 3 })
        expect(part).toEqual(expected.slice(mid, mid + 3))
      }
    ), { numRuns: 300 })
  })

  it('refuses to remove a slot it does not hold', () => {
    const keys = [5, 7]
    const index = indexOver(keys, 4)
    expect(() => { index.remove(0) }).toThrow(/not in the index/)
    index.insert(0)
    expect(() => { index.remove(1) }).toThrow(/not in the index/)
    index.remove(0)
    expect(index.size).toBe(0)
    index.walk(0, false, () => { throw new Error('an empty index has nothing to walk') })
  })
})
