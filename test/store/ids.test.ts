import { describe, it, expect } from 'vitest'
import { createIdGenerator, isChatId, type IdGenerator } from '../../src/store/ids.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

function take (next: IdGenerator, n: number): string[] {
  return Array.from({ length: n }, () => next())
}

/** The first index where ids[i] <= ids[i - 1], or -1 when they strictly increase. */
function firstOutOfOrder (ids: readonly string[]): number {
  for (let i = 1; i < ids.length; i++) {
    if (ids[i]! <= ids[i - 1]!) return i
  }
  return -1
}

/** The 48-bit Unix millisecond timestamp at the front of a UUIDv7. */
function timestampOf (id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
}

/** The 12-bit counter in rand_a. */
function counterOf (id: string): number {
  return parseInt(id.slice(15, 18), 16)
}

function expectSortedAndUnique (ids: readonly string[]): void {
  expect(firstOutOfOrder(ids)).toBe(-1)
  expect(new Set(ids).size).toBe(ids.length)
}

describe('createIdGenerator', () => {
  it('makes UUIDv7s: version 7, RFC 9562 variant, lower-case hex', () => {
    const ids = take(createIdGenerator(), 1000)
    expect(ids.filter((id) => !UUID_V7.test(id))).toEqual([])
  })

  it('puts the clock in the 48-bit timestamp', () => {
    const at = Date.UTC(2025, 0, 2, 3, 4, 5, 678)
    const id = createIdGenerator(() => at)()
    expect(timestampOf(id)).toBe(at)
    expect(new Date(timestampOf(id)).toISOString()).toBe('2025-01-02T03:04:05.678Z')
  })

  it('makes 100k unique ids in a tight loop, strictly increasing as strings', () => {
    expectSortedAndUnique(take(createIdGenerator(), 100_000))
  })

  it('keeps order with a clock that stands still (the counter orders ids within one millisecond)', () => {
    const at = 1_700_000_000_000
    const ids = take(createIdGenerator(() => at), 100_000)
    expectSortedAndUnique(ids)
    expect(ids.filter((id) => !UUID_V7.test(id))).toEqual([])
  })

  it('counts up by one within a millisecond', () => {
    const [a, b, c] = take(createIdGenerator(() => 1_700_000_000_000), 3)
    expect(counterOf(b!)).toBe(counterOf(a!) + 1)
    expect(counterOf(c!)).toBe(counterOf(a!) + 2)
    expect(timestampOf(a!)).toBe(timestampOf(c!))
  })

  it('seeds a fresh millisecond\'s counter in its lower half, leaving room to count', () => {
    let ms = 1_700_000_000_000
    const next = createIdGenerator(() => ms++)
    for (const id of take(next, 2000)) expect(counterOf(id)).toBeLessThan(0x800)
  })

  it('still sorts past 4096 ids in one millisecond: the counter overflow moves the timestamp on by one', () => {
    const at = 1_700_000_000_000
    const ids = take(createIdGenerator(() => at), 4097 + 4096)
    expectSortedAndUnique(ids)
    const stamps = new Set(ids.map(timestampOf))
    // The counter starts at most at 0x7ff, so 8193 ids need at least two more milliseconds, never a step back.
    expect(Math.min(...stamps)).toBe(at)
    expect(stamps.has(at + 1)).toBe(true)
    expect(stamps.has(at + 2)).toBe(true)
    expect(ids.map(timestampOf)).toEqual([...ids.map(timestampOf)].sort((x, y) => x - y))
  })

  it('keeps order when the clock goes backwards', () => {
    let ms = 1_700_000_000_000
    const next = createIdGenerator(() => (ms -= 7))
    const ids = take(next, 10_000)
    expectSortedAndUnique(ids)
    // It never goes back to the earlier times the clock claims.
    expect(timestampOf(ids.at(-1)!)).toBeGreaterThanOrEqual(timestampOf(ids[0]!))
  })

  it('keeps order when the clock jumps back and then forward again', () => {
    const clock = [5000, 5000, 4000, 4000, 3000, 5000, 5001, 6000, 100, 6001]
    let i = 0
    const next = createIdGenerator(() => clock[Math.min(i++, clock.length - 1)]!)
    const ids = take(next, clock.length + 5)
    expectSortedAndUnique(ids)
    expect(timestampOf(ids[0]!)).toBe(5000)
    expect(timestampOf(ids[7]!)).toBe(6000)
  })

  it('gives two generators different ids for the same millisecond (the random part)', () => {
    const at = 1_700_000_000_000
    const a = take(createIdGenerator(() => at), 100)
    const b = take(createIdGenerator(() => at), 100)
    const shared = a.filter((id) => b.includes(id))
    expect(shared).toEqual([])
  })
})

describe('isChatId', () => {
  it('accepts the ids the generator makes', () => {
    for (const id of take(createIdGenerator(), 100)) expect(isChatId(id)).toBe(true)
  })

  it.each([
    ['empty', ''],
    ['any word', 'abc'],
    ['a UUIDv4', '0b7d9a32-6f1c-4e8b-9a3f-2c5d7e9f1a4b'],
    ['upper case', '01936F0E-4A4B-7C3D-8E5F-0123456789AB'],
    ['wrong variant', '01936f0e-4a4b-7c3d-ce5f-0123456789ab'],
    ['too short', '01936f0e-4a4b-7c3d-8e5f-0123456789a'],
    ['too long', '01936f0e-4a4b-7c3d-8e5f-0123456789abc'],
    ['no dashes', '01936f0e4a4b7c3d8e5f0123456789ab0000'],
    ['a trailing newline', '01936f0e-4a4b-7c3d-8e5f-0123456789a\n'],
    ['non-hex', '01936f0e-4a4b-7c3d-8e5f-0123456789ag']
  ])('refuses %s', (_name, value) => {
    expect(isChatId(value)).toBe(false)
  })

  it('accepts a well-formed UUIDv7 it did not make', () => {
    expect(isChatId('01936f0e-4a4b-7c3d-8e5f-0123456789ab')).toBe(true)
  })
})
