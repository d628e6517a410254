/**
 * Full-text search over titles and descriptions: an inverted index from words to the slots of
 * the chats that contain them, with a sorted term dictionary so that a query word finds every
 * word it starts (binary search for the prefix range).
 */

const MARKS = /\p{M}/gu
const SEPARATORS = /[^\p{L}\p{N}]+/u

/** Folds case and accents: NFD, combining marks stripped, lower case (`Café` → `cafe`). */
export function fold (text: string): string {
  return text.normalize('NFD').replace(MARKS, '').toLowerCase()
}

/** The words of a text: folded, split on anything that is not a Unicode letter or digit. */
export function words (text: string): string[] {
  return fold(text).split(SEPARATORS).filter((w) => w.length > 0)
}

/** The distinct words of a chat's searchable text. */
export function chatTerms (title: string, description: string): Set<string> {
  const terms = new Set(words(title))
  for (const w of words(description)) terms.add(w)
  return terms
}

/** The slots of one term, kept sorted so that lists intersect by merging and test membership by binary search. */
class Postings {
  slots = new Int32Array(4)
  size = 0

  add (slot: number): void {
    const at = lowerBound(this.slots, this.size, slot)
    if (at < this.size && this.slots[at] === slot) return
    if (this.size === this.slots.length) {
      const grown = new Int32Array(this.size + (this.size >>> 1) + 4)
      grown.set(this.slots)
      this.slots = grown
    }
    this.slots.copyWithin(at + 1, at, this.size)
    this.slots[at] = slot
    this.size++
  }

  remove (slot: number): void {
    const at = lowerBound(this.slots, this.size, slot)
    if (at >= this.size || this.slots[at] !== slot) return
    this.slots.copyWithin(at, at + 1, this.size)
    this.size--
    if (this.size < this.slots.length >>> 2 && this.slots.length > 16) this.slots = this.slots.slice(0, this.size + (this.size >>> 1) + 4)
  }

  view (): Int32Array { return this.slots.subarray(0, this.size) }
}

export class TextIndex {
  private readonly postings = new Map<string, Postings>()
  /** Every term, sorted by UTF-16 code units: the words a prefix starts are one contiguous run. */
  private readonly terms: string[] = []

  add (slot: number, terms: Iterable<string>): void {
    for (const term of terms) {
      let list = this.postings.get(term)
      if (list === undefined) {
        list = new Postings()
        this.postings.set(term, list)
        this.terms.splice(termLowerBound(this.terms, term), 0, term)
      }
      list.add(slot)
    }
  }

  remove (slot: number, terms: Iterable<string>): void {
    for (const term of terms) {
      const list = this.postings.get(term)
      if (list === undefined) continue
      list.remove(slot)
      if (list.size === 0) {
        this.postings.delete(term)
        this.terms.splice(termLowerBound(this.terms, term), 1)
      }
    }
  }

  /** Moves a slot from one set of terms to another, touching only the terms that differ. */
  change (slot: number, before: Set<string>, after: Set<string>): void {
    const gone: string[] = []
    for (const t of before) if (!after.has(t)) gone.push(t)
    const added: string[] = []
    for (const t of after) if (!before.has(t)) added.push(t)
    this.remove(slot, gone)
    this.add(slot, added)
  }

  /**
   * The slots of the chats in which every query word starts some word, sorted ascending.
   * A word that starts one term answers that term's list without a copy.
   */
  match (queryWords: readonly string[]): Int32Array {
    let result: Int32Array | undefined
    const lists = queryWords.map((w) => this.prefixUnion(w)).sort((a, b) => a.length - b.length)
    for (const list of lists) {
      result = result === undefined ? list : intersect(result, list)
      if (result.length === 0) break
    }
    return result ?? new Int32Array(0)
  }

  get termCount (): number { return this.terms.length }

  /** Bytes held by the posting arrays (for the memory figures). */
  postingBytes (): number {
    let n = 0
    for (const list of this.postings.values()) n += list.slots.byteLength
    return n
  }

  private prefixUnion (prefix: string): Int32Array {
    const lists: Int32Array[] = []
    for (let i = termLowerBound(this.terms, prefix); i < this.terms.length; i++) {
      const term = this.terms[i]!
      if (!term.startsWith(prefix)) break
      lists.push(this.postings.get(term)!.view())
    }
    if (lists.length <= 1) return lists[0] ?? new Int32Array(0)
    let n = 0
    for (const list of lists) n += list.length
    const all = new Int32Array(n)
    n = 0
    for (const list of lists) { all.set(list, n); n += list.length }
    all.sort()
    let w = 0
    for (let r = 0; r < all.length; r++) if (w === 0 || all[r] !== all[w - 1]) all[w++] = all[r]!
    return all.subarray(0, w)
  }
}

function termLowerBound (terms: readonly string[], term: string): number {
  let lo = 0
  let hi = terms.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (terms[mid]! < term) lo = mid + 1
    else hi = mid
  }
  return lo
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
