import { randomFillSync } from 'node:crypto'

/**
 * UUIDv7 (RFC 9562) with a 12-bit monotonic counter in `rand_a` (method 1 of section 6.2):
 * ids made by one generator sort, as strings, in the order they were made, even within one
 * millisecond and when the clock steps back. When the counter runs out within a millisecond,
 * the timestamp is advanced by one (the RFC's allowed overflow handling).
 */
export interface IdGenerator { (): string }

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const POOL_SIZE = 16 * 1024

export function createIdGenerator (now: () => number = Date.now): IdGenerator {
  let lastMs = -1
  let counter = 0
  const pool = Buffer.allocUnsafe(POOL_SIZE)
  let poolOffset = POOL_SIZE

  function random (n: number): number {
    if (poolOffset + n > POOL_SIZE) {
      randomFillSync(pool)
      poolOffset = 0
    }
    const at = poolOffset
    poolOffset += n
    return at
  }

  return function nextId (): string {
    let ms = now()
    if (ms > lastMs) {
      // A fresh millisecond: seed the counter randomly in its lower half, leaving room to count.
      const r = random(2)
      counter = ((pool[r]! << 8) | pool[r + 1]!) & 0x7ff
      lastMs = ms
    } else {
      counter++
      if (counter > 0xfff) {
        lastMs++
        counter = 0
      }
      ms = lastMs
    }
    const r = random(8)
    const hi = Math.floor(ms / 0x1000000) // upper 24 of 48 bits
    const lo = ms % 0x1000000 // lower 24 bits
    return HEX[(hi >>> 16) & 0xff]! + HEX[(hi >>> 8) & 0xff]! + HEX[hi & 0xff]! + HEX[(lo >>> 16) & 0xff]! + '-' +
      HEX[(lo >>> 8) & 0xff]! + HEX[lo & 0xff]! + '-' +
      HEX[0x70 | (counter >>> 8)]! + HEX[counter & 0xff]! + '-' +
      HEX[0x80 | (pool[r]! & 0x3f)]! + HEX[pool[r + 1]!]! + '-' +
      HEX[pool[r + 2]!]! + HEX[pool[r + 3]!]! + HEX[pool[r + 4]!]! + HEX[pool[r + 5]!]! + HEX[pool[r + 6]!]! + HEX[pool[r + 7]!]!
  }
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** Whether a string could be an id this service made (path ids that cannot are answered 404). */
export function isChatId (value: string): boolean {
  return value.length === 36 && UUID_V7.test(value)
}
