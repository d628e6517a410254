/** The slot sets of the text index: the postings of a term, and the sets a query combines. */

/**
 * The slots of a term in more than one chat (a term in one chat keeps its slot as a number, see
 * `TextIndex.lists`): a sorted list, `size` long, in `list` (lists intersect by galloping,
 * membership by binary search), or, once the term is in at least one chat in 32 and in DENSE_MIN
 * chats, a bit set over the slots in `bits`: smaller then, O(1) to test, and two of them
 * intersect word by word.
 */
export const DENSE_MIN = 4096

export class Postings {
  constructor (public list: Int32Array | null, public bits: Uint32Array | null = null, public size = 0) {}

  /** Room for the `count` slots a bulk build will append: a list of that size, or bits when that many would be dense. */
  static reserved (count: number, universe: number): Postings {
    return count >= DENSE_MIN && count * 32 >= universe ? new Postings(null, new Uint32Array((universe >>> 5) + 1)) : new Postings(new Int32Array(count))
  }

  add (slot: number, universe: number): void {
    if (this.bits !== null) {
      if (slot >>> 5 >= this.bits.length) this.bits = growBits(this.bits, universe)
      const mask = 1 << (slot & 31)
      if ((this.bits[slot >>> 5]! & mask) === 0) { this.bits[slot >>> 5]! |= mask; this.size++ }
      return
    }
    let list = this.list!
    const at = lowerBound(list, this.size, slot)
    if (at < this.size && list[at] === slot) return
    if (this.size === list.length) {
      const grown = new Int32Array(this.size + (this.size >>> 1) + 4)
      grown.set(list)
      this.list = list = grown
    }
    list.copyWithin(at + 1, at, this.size)
    list[at] = slot
    this.size++
    if (this.size >= DENSE_MIN && this.size * 32 >= universe) this.toBits(universe)
  }

  /** `add` for a slot above every slot the list holds, or equal to the last one (a bulk build in slot order). */
  append (slot: number, universe: number): void {
    if (this.bits !== null) {
      const mask = 1 << (slot & 31)
      if ((this.bits[slot >>> 5]! & mask) === 0) { this.bits[slot >>> 5]! |= mask; this.size++ }
      return
    }
    let list = this.list!
    if (list[this.size - 1] === slot) return
    if (this.size === list.length) {
      const grown = new Int32Array(this.size + (this.size >>> 1) + 4)
      grown.set(list)
      this.list = list = grown
    }
    list[this.size++] = slot
    if (this.size >= DENSE_MIN && this.size * 32 >= universe) this.toBits(universe)
  }

  remove (slot: number, universe: number): void {
    if (this.bits !== null) {
      const mask = 1 << (slot & 31)
      if (((this.bits[slot >>> 5] ?? 0) & mask) === 0) return
      this.bits[slot >>> 5]! &= ~mask
      this.size--
      if (this.size < DENSE_MIN / 2 || this.size * 128 < universe) this.toList()
      return
    }
    const list = this.list!
    const at = lowerBound(list, this.size, slot)
    if (at >= this.size || list[at] !== slot) return
    list.copyWithin(at, at + 1, this.size)
    this.size--
    if (this.size < list.length >>> 2 && list.length > 16) this.list = list.slice(0, this.size + (this.size >>> 1) + 4)
  }

  set (): SlotSet {
    if (this.bits !== null) return new BitSlots(this.bits, this.size)
    return new SortedSlots(this.list!.subarray(0, this.size))
  }

  private toBits (universe: number): void {
    const bits = new Uint32Array((universe >>> 5) + 1)
    for (const slot of this.list!.subarray(0, this.size)) bits[slot >>> 5]! |= 1 << (slot & 31)
    this.bits = bits
    this.list = null
  }

  private toList (): void {
    const list = new Int32Array(this.size + (this.size >>> 1) + 4)
    let n = 0
    new BitSlots(this.bits!, this.size).forEach((slot) => { list[n++] = slot })
    this.list = list
    this.bits = null
  }
}

function growBits (bits: Uint32Array, universe: number): Uint32Array {
  const grown = new Uint32Array(Math.max((universe >>> 5) + 1, bits.length + (bits.length >>> 1)))
  grown.set(bits)
  return grown
}

/** A set of slots, as the text index answers a query. */
export type SlotSet = SortedSlots | BitSlots
interface SlotSetShape {
  readonly size: number
  has: (slot: number) => boolean
  /** Calls `visit` with every slot, ascending. */
  forEach: (visit: (slot: number) => void) => void
  /** The slots in both sets; call it on the smaller one. */
  intersect: (other: SlotSet) => SlotSet
}

export class SortedSlots implements SlotSetShape {
  constructor (readonly slots: Int32Array) {}
  get size (): number { return this.slots.length }
  has (slot: number): boolean { return contains(this.slots, slot) }
  forEach (visit: (slot: number) => void): void { for (const slot of this.slots) visit(slot) }
  intersect (other: SlotSet): SlotSet {
    if (other instanceof SortedSlots) return new SortedSlots(intersect(this.slots, other.slots))
    return new SortedSlots(this.slots.filter((slot) => other.has(slot)))
  }
}

export class BitSlots implements SlotSetShape {
  readonly size: number
  /** `size`: the number of bits set, when the caller knows it. */
  constructor (readonly bits: Uint32Array, size?: number) {
    if (size === undefined) {
      size = 0
      for (const word of bits) size += popCount(word)
    }
    this.size = size
  }

  has (slot: number): boolean { return ((this.bits[slot >>> 5] ?? 0) & (1 << (slot & 31))) !== 0 }

  forEach (visit: (slot: number) => void): void {
    const { bits } = this
    for (let w = 0; w < bits.length; w++) {
      let word = bits[w]!
      while (word !== 0) {
        const low = word & -word
        visit(w * 32 + 31 - Math.clz32(low))
        word ^= low
      }
    }
  }

  intersect (other: SlotSet): SlotSet {
    if (other instanceof BitSlots) {
      const bits = new Uint32Array(Math.min(this.bits.length, other.bits.length))
      let size = 0
      for (let w = 0; w < bits.length; w++) {
        const word = this.bits[w]! & other.bits[w]!
        if (word !== 0) { bits[w] = word; size += popCount(word) }
      }
      return new BitSlots(bits, size)
    }
    return other.intersect(this)
  }
}

export function popCount (word: number): number {
  let v = word - ((word >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

export function lowerBound (slots: Int32Array, size: number, slot: number): number {
  let lo = 0
  let hi = size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (slots[mid]! < slot) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Whether a sorted slot list holds `slot`. */
export function contains (slots: Int32Array, slot: number): boolean {
  const at = lowerBound(slots, slots.length, slot)
  return at < slots.length && slots[at] === slot
}

/** The slots in both sorted lists; `small` is the shorter one, each of its slots looked up by galloping in `large`. */
function intersect (small: Int32Array, large: Int32Array): Int32Array {
  const out = new Int32Array(small.length)
  let n = 0
  let from = 0
  for (const slot of small) {
    let step = 1
    let hi = from
    while (hi < large.length && large[hi]! < slot) { from = hi; hi += step; step *= 2 }
    let lo = from
    hi = Math.min(hi, large.length)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (large[mid]! < slot) lo = mid + 1
      else hi = mid
    }
    from = lo
    if (lo < large.length && large[lo] === slot) out[n++] = slot
  }
  return out.subarray(0, n)
}
