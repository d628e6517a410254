import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IdTable } from '../../../src/store/memory/id-table.js'

describe('IdTable', () => {
  it('agrees with a Map through any run of sets, moves and deletes (growth and probe runs that wrap included)', () => {
    // Few distinct ids over a small table: long probe runs, deletes in the middle of them, wraps past the end.
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'get'), fc.integer({ min: 0, max: 40 }))
    fc.assert(fc.property(fc.array(op, { minLength: 100, maxLength: 400 }), (ops) => {
      const rows: ({ id: string } | undefined)[] = []
      const table = new IdTable(rows)
      const model = new Map<string, number>()
      for (const [kind, n] of ops) {
        const id = `id-${n}`
        if (kind === 'set') {
          // A fresh row each time, as the store gives a changed chat in recovery; the old one is emptied.
          const old = model.get(id)
          const row = rows.length
          rows.push({ id })
          table.set(id, row)
          if (old !== undefined) rows[old] = undefined
          model.set(id, row)
        } else if (kind === 'delete') {
          expect(table.delete(id)).toBe(model.delete(id))
        } else {
          expect(table.get(id)).toBe(model.get(id))
        }
        expect(table.size).toBe(model.size)
      }
      for (const [id, row] of model) expect(table.get(id)).toBe(row)
      expect([...table.ids()].sort()).toEqual([...model.keys()].sort())
    }), { numRuns: 300 })
  })

  it('reads keys from the rows it is pointed at', () => {
    const first = [{ id: 'a' }, { id: 'b' }]
    const table = new IdTable(first)
    table.reserve(2)
    table.set('a', 0)
    table.set('b', 1)
    const second = [{ id: 'a' }, undefined, { id: 'b' }]
    table.delete('b')
    table.setRows(second)
    table.set('b', 2)
    expect(table.get('a')).toBe(0)
    expect(table.get('b')).toBe(2)
    expect(table.get('c')).toBeUndefined()
    expect(table.size).toBe(2)
  })

  it('holds a million ids', () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => ({ id: `01a20000-0000-7000-8000-${i.toString(16).padStart(12, '0')}` }))
    const table = new IdTable(rows)
    table.reserve(rows.length)
    rows.forEach((row, i) => { table.set(row.id, i) })
    expect(table.size).toBe(rows.length)
    for (let i = 0; i < rows.length; i += 997) expect(table.get(rows[i]!.id)).toBe(i)
    expect(table.get('01a20000-0000-7000-8000-fffffffffff0')).toBeUndefined()
  })
})
