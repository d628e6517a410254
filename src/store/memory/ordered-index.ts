/**
 * A sorted multiset of slots (small integers naming chats), ordered by a comparator that reads
 * the chats' keys: a list of sorted chunks (each an Int32Array of up to `maxChunk` slots).
 * Finding a position is a binary search over the chunks' last entries, then inside one chunk:
 * O(log n). Range scans walk on from there: O(log n + k). Rank and select (for counts and
 * offsets) use chunk-size prefix sums, rebuilt after a write at the first read that needs them.
 *
 * The comparator must be a total order that stays fixed while a slot is in the index: change a
 * slot's key only after removing it, and insert it again after.
 */
export type SlotCompare = (a: number, b: number) => number
/** Compares one slot's key with a probe key outside the index: negative when the slot sorts first. */
export type ProbeCompare = (slot: number) => number

/** Entries a chunk holds before it splits in two. */
export const DEFAULT_CHUNK = 1024

class Chunk {
  constructor (public slots: Int32Array, public size: number) {}
  last (): number { return this.slots[this.size - 1]! }
}

export class OrderedIndex {
  private chunks: Chunk[] = []
  /**
   * lasts[c] = the last slot of chunk c: the chunk-level search reads one small array instead of
   * a chunk object, its array and that array's memory for each step (in a busy process, a cache
   * miss each).
   */
  private lasts = new Int32Array(8)
  private total = 0
  /** prefix[i] = number of entries in chunks before i; null when stale. */
  private prefix: Int32Array | null = null

  private readonly minChunk: number

  /** `maxChunk`: the most entries a chunk holds before it splits (small ones exercise splits in tests). */
  constructor (readonly compare: SlotCompare, private readonly maxChunk = DEFAULT_CHUNK) {
    this.minChunk = Math.max(1, maxChunk >>> 3)
  }

  get size (): number { return this.total }

  insert (slot: number): void {
    this.prefix = null
    this.total++
    if (this.chunks.length === 0) {
      const slots = new Int32Array(Math.min(64, this.maxChunk))
      slots[0] = slot
      this.chunks.push(new Chunk(slots, 1))
      this.refreshLasts()
      return
    }
    // Past every entry (a new chat by createdAt, a write by updatedAt): append to the last chunk, no search.
    const lastChunk = this.chunks.length - 1
    const after = this.compare(this.lasts[lastChunk]!, slot) < 0
    const c = after ? lastChunk : Math.min(this.chunkOfSlot(slot), lastChunk)
    const chunk = this.chunks[c]!
    const at = after ? chunk.size : this.lowerOfSlot(chunk, slot)
    if (chunk.size === chunk.slots.length) {
      const grown = new Int32Array(Math.min(this.maxChunk, chunk.slots.length * 2))
      grown.set(chunk.slots)
      chunk.slots = grown
    }
    chunk.slots.copyWithin(at + 1, at, chunk.size)
    chunk.slots[at] = slot
    chunk.size++
    if (at === chunk.size - 1) this.lasts[c] = slot
    if (chunk.size === this.maxChunk) this.split(c)
  }

  /** Fills an empty index at once from slots already in its order (a bulk load), chunks three quarters full. */
  load (sorted: Int32Array): void {
    if (this.total !== 0) throw new Error('OrderedIndex: load needs an empty index')
    const per = Math.max(1, (this.maxChunk * 3) >>> 2)
    for (let at = 0; at < sorted.length; at += per) {
      const slots = new Int32Array(this.maxChunk)
      const part = sorted.subarray(at, at + per)
      slots.set(part)
      this.chunks.push(new Chunk(slots, part.length))
    }
    this.refreshLasts()
    this.total = sorted.length
    this.prefix = null
  }

  /** Every slot in order, as one array (a snapshot saves it; `load` takes it back). */
  toArray (): Int32Array {
    const out = new Int32Array(this.total)
    let at = 0
    for (const chunk of this.chunks) {
      out.set(chunk.slots.subarray(0, chunk.size), at)
      at += chunk.size
    }
    return out
  }

  /** Removes `slot`, which must be in the index with its current key. */
  remove (slot: number): void {
    const c = this.chunkOfSlot(slot)
    const chunk = this.chunks[c]
    const at = chunk === undefined ? -1 : this.lowerOfSlot(chunk, slot)
    if (chunk === undefined || at >= chunk.size || chunk.slots[at] !== slot) {
      throw new Error(`OrderedIndex: slot ${slot} is not in the index`)
    }
    this.prefix = null
    this.total--
    chunk.slots.copyWithin(at, at + 1, chunk.size)
    chunk.size--
    if (chunk.size === 0) {
      this.chunks.splice(c, 1)
      this.refreshLasts()
    } else {
      this.lasts[c] = chunk.last()
      if (chunk.size < this.minChunk) this.merge(c)
    }
  }

  /** The rank of the first entry that does not sort before the probe (`probe(entry) >= 0`); `strict`: the first that sorts after it. */
  rankOf (probe: ProbeCompare, strict = false): number {
    const test = strict ? (s: number) => probe(s) > 0 ? 0 : -1 : probe
    const c = this.chunkFor(test)
    const chunk = this.chunks[c]
    if (chunk === undefined) return this.total
    return this.prefixSums()[c]! + lowerIn(chunk, test)
  }

  /** The slot at `rank` (0-based), or -1 past the end. */
  at (rank: number): number {
    if (rank < 0 || rank >= this.total) return -1
    const [c, i] = this.locate(rank)
    return this.chunks[c]!.slots[i]!
  }

  /**
   * Calls `visit` with the slots from `rank` on, ascending, or from `rank` down to 0 when
   * `descending`, until `visit` returns false or the entries run out.
   */
  walk (rank: number, descending: boolean, visit: (slot: number) => boolean): void {
    if (rank < 0 || rank >= this.total) return
    let [c, i] = this.locate(rank)
    if (descending) {
      for (; c >= 0; c--) {
        const chunk = this.chunks[c]!
        for (; i >= 0; i--) if (!visit(chunk.slots[i]!)) return
        if (c > 0) i = this.chunks[c - 1]!.size - 1
      }
    } else {
      for (; c < this.chunks.length; c++) {
        const chunk = this.chunks[c]!
        for (; i < chunk.size; i++) if (!visit(chunk.slots[i]!)) return
        i = 0
      }
    }
  }

  /** The index of the chunk that holds the first entry with `test(entry) >= 0`, or chunks.length. */
  private chunkFor (test: ProbeCompare): number {
    let lo = 0
    let hi = this.chunks.length
    // The first chunk whose last entry is >= probe.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (test(this.lasts[mid]!) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** `chunkFor` with the comparator called directly, for a slot's own position (no probe closure per write). */
  private chunkOfSlot (slot: number): number {
    const { lasts, compare } = this
    let lo = 0
    let hi = this.chunks.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(lasts[mid]!, slot) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** `lowerIn` for a slot's own position. */
  private lowerOfSlot (chunk: Chunk, slot: number): number {
    const { compare } = this
    const slots = chunk.slots
    let lo = 0
    let hi = chunk.size
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(slots[mid]!, slot) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Rebuilds `lasts` after the chunks themselves changed (a split, a merge, a chunk gone): once in hundreds of writes. */
  private refreshLasts (): void {
    const n = this.chunks.length
    if (this.lasts.length < n) this.lasts = new Int32Array(n * 2)
    for (let c = 0; c < n; c++) this.lasts[c] = this.chunks[c]!.last()
  }

  private locate (rank: number): [number, number] {
    const prefix = this.prefixSums()
    let lo = 0
    let hi = this.chunks.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (prefix[mid]! <= rank) lo = mid
      else hi = mid - 1
    }
    return [lo, rank - prefix[lo]!]
  }

  private prefixSums (): Int32Array {
    if (this.prefix !== null) return this.prefix
    const prefix = new Int32Array(this.chunks.length + 1)
    for (let c = 0; c < this.chunks.length; c++) prefix[c + 1] = prefix[c]! + this.chunks[c]!.size
    this.prefix = prefix
    return prefix
  }

  private split (c: number): void {
    const chunk = this.chunks[c]!
    const half = chunk.size >>> 1
    const right = new Int32Array(this.maxChunk)
    right.set(chunk.slots.subarray(half, chunk.size))
    const rightChunk = new Chunk(right, chunk.size - half)
    chunk.size = half
    this.chunks.splice(c + 1, 0, rightChunk)
    this.refreshLasts()
  }

  /** Folds a small chunk into a neighbour, splitting again when the pair is too big. */
  private merge (c: number): void {
    const n = c + 1 < this.chunks.length ? c + 1 : c - 1
    if (n < 0) return
    const [l, r] = n > c ? [c, n] : [n, c]
    const left = this.chunks[l]!
    const right = this.chunks[r]!
    const size = left.size + right.size
    // A small chunk and a nearly full neighbour can hold more than maxChunk together, until the split below.
    const slots = new Int32Array(Math.max(this.maxChunk, size))
    slots.set(left.slots.subarray(0, left.size))
    slots.set(right.slots.subarray(0, right.size), left.size)
    this.chunks.splice(l, 2, new Chunk(slots, size))
    if (size >= this.maxChunk) this.split(l)
    else this.refreshLasts()
  }
}

/** The position of the first slot in the chunk with `test(slot) >= 0`. */
function lowerIn (chunk: Chunk, test: ProbeCompare): number {
  let lo = 0
  let hi = chunk.size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (test(chunk.slots[mid]!) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}
