import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isoTime } from '../../src/store/iso-time.js'

describe('isoTime', () => {
  it('formats like Date.prototype.toISOString', () => {
    fc.assert(fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    }), { numRuns: 2000 })
    fc.assert(fc.property(fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }), (ms) => {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    }), { numRuns: 5000 })
  })

  it('formats the edges of days, years and its own range', () => {
    for (const ms of [0, 1, 999, 86_399_999, 86_400_000, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      253_402_300_799_999, 253_402_300_800_000, -1, 1.5]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    }
    expect(() => isoTime(Number.NaN)).toThrow(RangeError)
  })

  it('stays right when its cache of days fills up', () => {
    for (let day = 0; day < 5000; day++) {
      const ms = day * 86_400_000 + 3_723_004
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
    }
  })
})
