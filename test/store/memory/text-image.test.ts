import { describe, expect, it } from 'vitest'
import { collectTerms } from '../../../src/store/memory/text-image.js'

describe('collectTerms', () => {
  it('numbers each distinct word once and lists each chat\'s words, however many the chats hold', () => {
    const chats = Array.from({ length: 25_000 }, (_, i) => ({ title: `a${i} shared`, description: `b${i} shared a${i}` }))
    const slots = Int32Array.from({ length: chats.length + 1 }, (_, i) => i)
    const { terms, counts, occurrences, ends } = collectTerms(chats, slots)
    expect(terms.length).toBe(2 * chats.length + 1)
    expect(terms.slice(0, 3)).toEqual(['a0', 'shared', 'b0'])
    expect(counts[1]).toBe(chats.length)
    expect(ends.length).toBe(slots.length)
    // Three distinct words a chat, more than the first occurrence array holds; the slot past the chats is empty.
    expect(ends.at(-2)).toBe(3 * chats.length)
    expect(ends.at(-1)).toBe(ends.at(-2))
    expect(Array.from(occurrences.subarray(3, 6))).toEqual([3, 1, 4])
  })
})
