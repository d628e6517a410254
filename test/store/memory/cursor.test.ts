import { describe, expect, it } from 'vitest'
import { StoreError } from '../../../src/store/errors.js'
import { CursorCodec, fingerprintOf, type KeyTuple } from '../../../src/store/memory/cursor.js'

function refusal (fn: () => unknown): StoreError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError)
    return err as StoreError
  }
  throw new Error('expected a refusal')
}

describe('CursorCodec', () => {
  const codec = new CursorCodec(Buffer.alloc(32, 7))
  const fp = fingerprintOf({ s: ['-createdAt'], p: 4 })

  it('gives back the tuple it encoded, for the same filters and sort', () => {
    const cursor = codec.encode(fp, [1735689600000, 'café', '0193-id'])
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    expect(codec.decode(cursor, fp)).toEqual([1735689600000, 'café', '0193-id'])
  })

  it('refuses a cursor made for other filters or another sort', () => {
    const cursor = codec.encode(fp, [1, 'x'])
    const err = refusal(() => codec.decode(cursor, fingerprintOf({ s: ['createdAt'], p: 4 })))
    expect(err.code).toBe('invalid')
    expect(err.fields[0]?.field).toBe('/cursor')
    expect(err.fields[0]?.message).toMatch(/other filters/)
  })

  it.each([
    ['a changed payload', (c: string) => `${Buffer.from(JSON.stringify([fp, 2, 'x'])).toString('base64url')}.${c.split('.')[1]!}`],
    ['a changed signature', (c: string) => `${c.split('.')[0]!}.${'A'.repeat(22)}`],
    ['no signature', (c: string) => c.split('.')[0]!],
    ['an extra part', (c: string) => `${c}.x`],
    ['garbage', () => 'not-a-cursor'],
    ['another store\'s cursor', () => new CursorCodec(Buffer.alloc(32, 8)).encode(fp, [1, 'x'])]
  ])('refuses %s', (_, tamper) => {
    const err = refusal(() => codec.decode(tamper(codec.encode(fp, [1, 'x'])), fp))
    expect(err.code).toBe('invalid')
    expect(err.fields[0]?.field).toBe('/cursor')
  })

  it('makes fingerprints that depend on every part of the query', () => {
    expect(fingerprintOf({ a: 1 })).toBe(fingerprintOf({ a: 1 }))
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: 2 }))
  })
})

describe('CursorCodec, payload characters', () => {
  it('refuses a payload with characters outside base64url', () => {
    const codec = new CursorCodec(Buffer.alloc(32, 7))
    const fp = fingerprintOf({ s: ['title'] })
    const [payload, mac] = codec.encode(fp, [1, 'x']).split('.') as [string, string]
    const forged = String.fromCharCode(payload.charCodeAt(0) + 0x100) + payload.slice(1)
    const err = refusal(() => codec.decode(`${forged}.${mac}`, fp))
    expect(err.fields[0]?.field).toBe('/cursor')
    expect(codec.decode(`${payload}.${mac}`, fp)).toEqual([1, 'x'])
  })
})

describe('CursorCodec, cursors made again', () => {
  it('makes the cursor after an item once per fingerprint, the same as encode, and again past the 256 remembered', () => {
    const codec = new CursorCodec(Buffer.alloc(32, 5))
    const fp = fingerprintOf({ s: ['-createdAt'] })
    const other = fingerprintOf({ s: ['createdAt'] })
    const item = { id: 'a' }
    let made = 0
    const tuple = (): KeyTuple => { made++; return [1, 'a'] }
    const first = codec.encodeAfter(item, fp, tuple)
    expect(first).toBe(codec.encode(fp, [1, 'a']))
    expect(codec.encodeAfter(item, fp, tuple)).toBe(first)
    expect(made).toBe(1)
    // Another fingerprint for the same item: made anew, and decodes only with that fingerprint.
    const second = codec.encodeAfter(item, other, tuple)
    expect(made).toBe(2)
    expect(codec.decode(second, other)).toEqual([1, 'a'])
    for (let n = 0; n < 300; n++) expect(codec.decode(codec.encodeAfter({ n }, fp, () => [n, 'b']), fp)).toEqual([n, 'b'])
    expect(codec.encodeAfter(item, other, tuple)).toBe(second)
    expect(made).toBe(3)
  })
})
