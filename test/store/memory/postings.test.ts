import { describe, expect, it } from 'vitest'
import { BitSlots, SortedSlots, type SlotSet } from '../../../src/store/memory/postings.js'

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
