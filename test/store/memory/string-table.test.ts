import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { spread, stringHash, StringTable } from '../../../src/store/memory/string-table.js'

describe('StringTable', () => {
  it('agrees with a Map through any run of sets, moves and deletes (growth and probe runs that wrap included)', () => {
    // Few distinct keys over a small table: long probe runs, deletes in the middle of them, wraps past the end.
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'get'), fc.integer({ min: 0, max: 40 }))
    fc.assert(fc.property(fc.array(op, { minLength: 100, maxLength: 400 }), (ops) => {
      const keys: (string | undefined)[] = []
      const table = new StringTable((entry) => keys[entry]!)
      const model = new Map<string, number>()
      for (const [kind, n] of ops) {
        const key = `key-${n}`
        if (kind === 'set') {
          // A fresh entry each time, as a chat changed in recovery gets a new row; the old one is emptied.
          const old = model.get(key)
          const entry = keys.length
          keys.push(key)
          table.set(key, entry)
          if (old !== undefined) keys[old] = undefined
          model.set(key, entry)
        } else if (kind === 'delete') {
          const entry = model.get(key)
          expect(table.delete(key)).toBe(entry)
          // A deleted entry's key is gone, as a freed row's is: the table must not read it again.
          if (entry !== undefined) keys[entry] = undefined
          model.delete(key)
        } else {
          expect(table.get(key)).toBe(model.get(key))
        }
        expect(table.size).toBe(model.size)
      }
      for (const [key, entry] of model) expect(table.get(key)).toBe(entry)
      expect([...table.entries()].sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b))
    }), { numRuns: 300 })
  })

  it('adds distinct keys without a lookup, and reads keys where keyOf says at the time', () => {
    let keys = ['a', 'b']
    const table = new StringTable((entry) => keys[entry]!)
    table.reserve(2)
    table.add('a', 0)
    table.add('b', 1)
    expect(table.delete('b')).toBe(1)
    keys = ['a', '', 'b']
    table.set('b', 2)
    expect(table.get('a')).toBe(0)
    expect(table.get('b')).toBe(2)
    expect(table.get('c')).toBeUndefined()
    expect(table.delete('c')).toBeUndefined()
    expect(table.size).toBe(2)
  })

  it('finds the empty string like any key', () => {
    const keys = ['', 'a']
    const table = new StringTable((entry) => keys[entry]!)
    table.set('', 0)
    table.set('', 0)
    table.set('a', 1)
    expect(table.size).toBe(2)
    expect(table.get('')).toBe(0)
    expect(table.delete('')).toBe(0)
    expect(table.get('a')).toBe(1)
  })

  it('hashes keys that differ only in the high bits of their characters to places all over the table', () => {
    // FNV-1a alone gives these the same low bits: all would start at one place of a small table.
    const keys = Array.from({ length: 256 }, (_, i) => String.fromCharCode(0x61 + (i << 8)))
    const table = new StringTable((entry) => keys[entry]!)
    keys.forEach((key, i) => { table.set(key, i) })
    const places = new Set(keys.map((key) => spread(stringHash(key)) & 511))
    expect(places.size).toBeGreaterThan(128)
    keys.forEach((key, i) => { expect(table.get(key)).toBe(i) })
  })

  it('holds a million ids', () => {
    const ids = Array.from({ length: 1_000_000 }, (_, i) => `01a20000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`)
    const table = new StringTable((entry) => ids[entry]!)
    table.reserve(ids.length)
    ids.forEach((id, i) => { table.set(id, i) })
    expect(table.size).toBe(ids.length)
    for (let i = 0; i < ids.length; i += 997) expect(table.get(ids[i]!)).toBe(i)
    expect(table.get('01a20000-0000-7000-8000-fffffffffff0')).toBeUndefined()
  })
})
