/** What the table reads a row's id from: the indexes' record array. */
export type Rows = ArrayLike<{ readonly id: string } | undefined>

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a over the id's code units. */
function hashOf (id: string): number {
  let hash = FNV_OFFSET
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), FNV_PRIME)
  return hash
}

/**
 * The store's map of chat ids to rows: open addressing with linear probing over two typed arrays
 * (each entry a row number and its id's hash), the key read from the row itself (`rows[row].id`).
 * A `Map` holds an entry of three words a chat on the heap and costs a million ids about 0.6 s to
 * build at a start; this builds in about a third of that, keeps nothing for the garbage collector
 * to walk, and takes 8 bytes an entry at a load of at most a half.
 *
 * `rows[row]` must hold the id's chat from `set` until `delete` (the table finds every entry's key
 * there): `setRows` points it at another array that holds the same chats in the same rows.
 */
export class IdTable {
  /** Row + 1 in each place, 0 where empty. */
  private places: Int32Array
  private hashes: Int32Array
  private mask: number
  size = 0

  constructor (private rows: Rows) {
    this.places = new Int32Array(16)
    this.hashes = new Int32Array(16)
    this.mask = 15
  }

  /** Makes room for `count` ids at once (a load), instead of doubling on the way. */
  reserve (count: number): void {
    while (count * 2 > this.places.length) this.grow()
  }

  setRows (rows: Rows): void {
    this.rows = rows
  }

  get (id: string): number | undefined {
    const at = this.find(id, hashOf(id))
    return at < 0 ? undefined : this.places[at]! - 1
  }

  /** Adds the id at `row`, or moves it there. */
  set (id: string, row: number): void {
    const hash = hashOf(id)
    const at = this.find(id, hash)
    if (at >= 0) {
      this.places[at] = row + 1
      return
    }
    if ((this.size + 1) * 2 > this.places.length) this.grow()
    this.put(row + 1, hash)
    this.size++
  }

  delete (id: string): boolean {
    let at = this.find(id, hashOf(id))
    if (at < 0) return false
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
    return true
  }

  /** Every id in the table, in no particular order. */
  * ids (): Generator<string> {
    for (const place of this.places) if (place !== 0) yield this.rows[place - 1]!.id
  }

  /** The place holding `id`, or -1. */
  private find (id: string, hash: number): number {
    const { places, hashes, mask, rows } = this
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const place = places[at]!
      if (place === 0) return -1
      if (hashes[at] === hash && rows[place - 1]!.id === id) return at
    }
  }

  private put (place: number, hash: number): void {
    const { places, mask } = this
    let at = hash & mask
    while (places[at] !== 0) at = (at + 1) & mask
    places[at] = place
    this.hashes[at] = hash
  }

  private grow (): void {
    const { places, hashes } = this
    this.places = new Int32Array(places.length * 2)
    this.hashes = new Int32Array(places.length * 2)
    this.mask = this.places.length - 1
    for (let at = 0; at < places.length; at++) if (places[at] !== 0) this.put(places[at]!, hashes[at]!)
  }
}
