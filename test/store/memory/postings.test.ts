import { describe, expect, it } from 'vitest'
import { BitSlots, DENSE_MIN, Postings, SortedSlots, type SlotSet } from '../../../src/store/memory/postings.js'

const slotsOf = (set: SlotSet): number[] => { const out: number[] = []; set.forEach((s) => out.push(s)); return out }

describe('slot sets', () => {
  it('intersect across both forms', () => {
    const bits = new Uint32Array(4)
    for (const s of [1, 31, 32, 64, 100]) bits[s >>> 5]! |= 1 << (s & 31)
    const dense = new BitSlots(bits)
    const other = new BitSlots(new Uint32Array([0xffffffff, 0]))
    const sorted = new SortedSlots(new Int32Array([0, 31, 100, 200]))
    expect(dense.size).toBe(5)
    expect(slotsOf(dense)).toEqual([1, 31, 32, 64, 100])
    expect(slotsOf(dense.intersect(other))).toEqual([1, 31])
    expect(slotsOf(dense.intersect(sorted))).toEqual([31, 100])
    expect(slotsOf(sorted.intersect(dense))).toEqual([31, 100])
    expect(dense.has(1000)).toBe(false)
  })
})

describe('Postings', () => {
  it('turns into a bit set once dense, and back into a list once sparse again, keeping its slots', () => {
    const universe = 2 * DENSE_MIN
    const postings = new Postings(new Int32Array(0))
    for (let slot = universe - 1; slot >= DENSE_MIN / 2; slot--) postings.add(slot, universe)
    expect(postings.bits).not.toBeNull()
    postings.add(universe + 40, universe + 41)
    // Fewer than DENSE_MIN / 2 slots left: a list again.
    const kept = DENSE_MIN / 2 - 100
    for (let slot = DENSE_MIN / 2; slot < universe - kept; slot++) postings.remove(slot, universe + 41)
    expect(postings.bits).toBeNull()
    const expected = Array.from({ length: kept }, (_, i) => universe - kept + i).concat(universe + 40)
    expect(slotsOf(postings.set())).toEqual(expected)
    postings.remove(3, universe + 41)
    expect(postings.size).toBe(expected.length)
  })

  it('grows past the room a bulk build reserved, and passes over a repeated last slot', () => {
    const postings = Postings.reserved(2, 100)
    for (const slot of [1, 1, 5, 9, 9, 20]) postings.append(slot, 100)
    expect(slotsOf(postings.set())).toEqual([1, 5, 9, 20])
  })
})
