import { randomInt } from 'node:crypto'

/**
 * Where every string's hash starts: FNV-1a's offset basis mixed with a number drawn once per
 * process, so that which keys collide cannot be worked out from outside (the keys include words
 * users write), as V8 seeds its own string hashes. Code that hashes a word a character at a time
 * while it scans a text (`forEachWord`) starts from here too.
 */
export const HASH_BASIS = 0x811c9dc5 ^ randomInt(0x100000000)
export const FNV_PRIME = 0x01000193

/** FNV-1a, from `HASH_BASIS`, over the code units of `from` from `start` to `end`. */
export function stringHash (from: string, start = 0, end = from.length): number {
  let hash = HASH_BASIS
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ from.charCodeAt(i), FNV_PRIME)
  return hash
}

/**
 * MurmurHash3's finalizer: every bit of a hash moves the low ones, which pick a key's place.
 * FNV-1a's low bits depend only on the low bits of each character, so without it words whose
 * characters differ only in high bits would all start at one place.
 */
export function spread (hash: number): number {
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b)
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35)
  return hash ^ (hash >>> 16)
}

const hashOf = (key: string): number => spread(stringHash(key, 0, key.length))

/**
 * A hash table from string keys to entry numbers (rows, term numbers), for the store's big maps:
 * ids to rows and words to their postings. Open addressing with linear probing over two typed
 * arrays (each place an entry + 1 and its key's hash); the keys are not copied but read through
 * `keyOf(entry)`, which must give an entry's key from its `set` until its `delete`.
 *
 * A `Map` of strings keeps three heap words an entry for the garbage collector to walk and is slow
 * to fill at a start; this fills faster, holds no object per entry, and takes 8 bytes a place at a
 * load of at most a half.
 */
export class StringTable {
  /** Entry + 1 in each place, 0 where empty. */
  private places = new Int32Array(16)
  private hashes = new Int32Array(16)
  private mask = 15
  size = 0

  constructor (private readonly keyOf: (entry: number) => string) {}

  /** Makes room for `count` keys at once (a load), instead of doubling on the way. */
  reserve (count: number): void {
    let size = this.places.length
    while (count * 2 > size) size *= 2
    if (size > this.places.length) this.resize(size)
  }

  get (key: string): number | undefined {
    const at = this.find(key, hashOf(key))
    return at < 0 ? undefined : this.places[at]! - 1
  }

  /** Adds the key with `entry`, or moves it there. */
  set (key: string, entry: number): void {
    const hash = hashOf(key)
    const at = this.find(key, hash)
    if (at >= 0) this.places[at] = entry + 1
    else this.put(entry, hash)
  }

  /** Adds the key with `entry` unless it is there: answers the entry it already had, else undefined. */
  addIfAbsent (key: string, entry: number): number | undefined {
    const hash = hashOf(key)
    const at = this.find(key, hash)
    if (at >= 0) return this.places[at]! - 1
    this.put(entry, hash)
    return undefined
  }

  /** `set` of a key known to be absent (a load of distinct keys): no lookup first. */
  add (key: string, entry: number): void {
    this.put(entry, hashOf(key))
  }

  /** Removes the key, answering the entry it had. */
  delete (key: string): number | undefined {
    let at = this.find(key, hashOf(key))
    if (at < 0) return undefined
    const entry = this.places[at]! - 1
    // Backward-shift deletion: later entries of the probe run move up, so no tombstones are left.
    const { places, hashes, mask } = this
    for (let next = (at + 1) & mask; places[next] !== 0; next = (next + 1) & mask) {
      const home = hashes[next]! & mask
      // The entry at `next` may fill the hole at `at` unless its home lies cyclically in (at, next].
      if (at <= next ? (home <= at || home > next) : (home <= at && home > next)) {
        places[at] = places[next]!
        hashes[at] = hashes[next]!
        at = next
      }
    }
    places[at] = 0
    this.size--
    return entry
  }

  /** Every entry, in no particular order. */
  * entries (): Generator<number> {
    for (const place of this.places) if (place !== 0) yield place - 1
  }

  /** The place holding `key`, or -1. */
  private find (key: string, hash: number): number {
    const { places, hashes, mask } = this
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const place = places[at]!
      if (place === 0) return -1
      if (hashes[at] === hash && this.keyOf(place - 1) === key) return at
    }
  }

  private put (entry: number, hash: number): void {
    if ((this.size + 1) * 2 > this.places.length) this.resize(this.places.length * 2)
    this.size++
    this.place(entry + 1, hash)
  }

  private place (place: number, hash: number): void {
    const { places, mask } = this
    let at = hash & mask
    while (places[at] !== 0) at = (at + 1) & mask
    places[at] = place
    this.hashes[at] = hash
  }

  private resize (size: number): void {
    const { places, hashes } = this
    this.places = new Int32Array(size)
    this.hashes = new Int32Array(size)
    this.mask = this.places.length - 1
    for (let at = 0; at < places.length; at++) if (places[at] !== 0) this.place(places[at]!, hashes[at]!)
  }
}
