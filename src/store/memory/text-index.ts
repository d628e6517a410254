import { StringTable } from './string-table.js'
import { BitSlots, DENSE_MIN, popCount, Postings, SortedSlots, type SlotSet } from './postings.js'
import { collectTerms, type TextCapture, type TextImage } from './text-image.js'
import { cut, forEachWord, type ChatText } from './tokenizer.js'

/**
 * Full-text search over titles and descriptions: an inverted index from words to the slots of
 * the chats that contain them, with a sorted term dictionary so that a query word finds every
 * word it starts (binary search for the prefix range).
 */
export class TextIndex {
  /**
   * Each term and its slots, by term number; a number its term's last chat gave up is reused. A
   * term in one chat (most words of a large store: names, numbers) keeps that slot as a plain
   * number instead of a `Postings`, an object fewer for the heap and the garbage collector.
   */
  private terms: string[] = []
  private lists: (Postings | number | undefined)[] = []
  private readonly freeTerms: number[] = []
  /** The number of each term. */
  private readonly termOf = new StringTable((t) => this.terms[t]!)
  /**
   * The term dictionary, sorted by UTF-16 code units so that the words a prefix starts are one
   * run, in two levels: new terms go into the small sorted `pending` (about 8·√T of them) and
   * are merged into `sorted` in batches; terms whose last chat went stay in `sorted` until they
   * are half of it. A new word costs O(√T) amortized, not a splice of the whole dictionary.
   */
  private sorted: string[] = []
  private pending: string[] = []
  private dead = 0
  /** One past the highest slot seen: the size a bit set needs. */
  private universe = 0

  add (slot: number, terms: Iterable<string>): void {
    for (const term of terms) this.addOne(slot, term)
  }

  /** `add` of a chat's words as they lie in its text: no set of them first (a word already added is left as it is). */
  addText (slot: number, text: ChatText): void {
    const visit = (from: string, start: number, end: number): void => { this.addOne(slot, cut(from, start, end)) }
    forEachWord(text.title, visit)
    forEachWord(text.description, visit)
  }

  private addOne (slot: number, term: string): void {
    if (slot >= this.universe) this.universe = slot + 1
    const t = this.termOf.get(term)
    if (t === undefined) {
      const fresh = this.freeTerms.pop() ?? this.terms.length
      this.terms[fresh] = term
      this.lists[fresh] = slot
      this.termOf.add(term, fresh)
      this.addTerm(term)
      return
    }
    const list = this.lists[t]!
    if (typeof list !== 'number') {
      list.add(slot, this.universe)
    } else if (list !== slot) {
      this.lists[t] = new Postings(Int32Array.of(Math.min(list, slot), Math.max(list, slot), 0, 0), null, 2)
    }
  }

  /**
   * Fills an empty index from the chats in slots 0 to n - 1 (holes allowed) at once
   * (`collectTerms`): each slot appended to its terms' lists in ascending order, the lists made at
   * their final size, the dictionary sorted once at the end.
   */
  load (chats: ArrayLike<ChatText | undefined>, n: number): void {
    if (this.termOf.size !== 0) throw new Error('TextIndex: load needs an empty index')
    this.universe = n
    const slots = new Int32Array(n)
    for (let slot = 0; slot < n; slot++) slots[slot] = slot
    const { terms, counts, occurrences, ends } = collectTerms(chats, slots)
    const lists: (Postings | number)[] = new Array<Postings | number>(terms.length)
    for (let id = 0; id < lists.length; id++) if (counts[id]! > 1) lists[id] = Postings.reserved(counts[id]!, n)
    for (let from = 0, s = 0; s < n; s++) {
      for (const end = ends[s]!; from < end; from++) {
        const list = lists[occurrences[from]!]
        if (list === undefined) lists[occurrences[from]!] = s
        else (list as Postings).append(s, n)
      }
    }
    this.fill(terms, lists)
    // The default sort compares by UTF-16 code units, as `<` does.
    this.sorted = terms.slice().sort()
    this.pending = []
    this.dead = 0
  }

  /**
   * The whole index copied into flat arrays, for a snapshot: cheap enough for the write lock (one
   * walk over the postings, no lookups). `textImage` then puts the copy in dictionary order, off
   * the lock.
   */
  toImage (): TextCapture {
    const { lists } = this
    let total = 0
    for (const list of lists) if (list !== undefined) total += typeof list === 'number' ? 1 : list.bits === null ? list.size : list.bits.length
    const terms: string[] = []
    const ends = new Int32Array(this.termOf.size)
    const dense = new Uint8Array(this.termOf.size)
    const data = new Int32Array(total)
    let k = 0
    let t = 0
    for (let number = 0; number < lists.length; number++) {
      const list = lists[number]
      if (list === undefined) continue
      const term = this.terms[number]!
      if (typeof list === 'number') {
        data[k++] = list
      } else if (list.bits !== null) {
        data.set(list.bits, k)
        k += list.bits.length
        dense[t] = 1
      } else {
        data.set(list.list!.subarray(0, list.size), k)
        k += list.size
      }
      terms.push(term)
      ends[t++] = k
    }
    return { terms, ends, dense, data, sorted: this.sorted.slice(), pending: this.pending.slice() }
  }

  /**
   * Fills an empty index from a `textImage` (through a snapshot); `universe`: one past the highest
   * slot. Lists of more than one slot become views of `image.data`. Throws when the image does not
   * hold together (terms out of order, postings not ascending or out of range, or, given the bit
   * set of the `filled` slots, naming an empty one).
   */
  loadImage (image: TextImage, universe: number, filled?: Uint32Array): void {
    if (this.termOf.size !== 0) throw new Error('TextIndex: loadImage needs an empty index')
    const { terms, ends, dense, data } = image
    if (ends.length !== terms.length || dense.length !== terms.length || (ends.length > 0 && ends[ends.length - 1] !== data.length)) throw new Error('TextIndex: the image\'s arrays do not agree')
    this.universe = universe
    const words = (universe >>> 5) + 1
    const lists = new Array<Postings | number>(terms.length)
    let from = 0
    let previous: string | undefined
    for (let t = 0; t < terms.length; t++) {
      const term = terms[t]!
      const end = ends[t]!
      if (end <= from || (previous !== undefined && !(previous < term))) throw new Error(`TextIndex: the image's term ${t} is empty or out of order`)
      if (dense[t] === 1) {
        // A bit set that grew past the slots (by half at a time) has only zeros there.
        const bits = new Uint32Array(Math.max(words, end - from))
        let size = 0
        for (let w = 0; from < end; from++, w++) {
          const word = data[from]! >>> 0
          if ((w >= words && word !== 0) || (filled !== undefined && (word & ~(filled[w] ?? 0)) !== 0)) throw new Error(`TextIndex: the image's bits of "${term}" name an empty slot`)
          bits[w] = word
          size += popCount(word)
        }
        lists[t] = new Postings(null, bits, size)
      } else {
        const size = end - from
        let last = -1
        for (let i = from; i < end; i++) {
          const slot = data[i]!
          if (slot <= last || slot >= universe || (filled !== undefined && (filled[slot >>> 5]! & (1 << (slot & 31))) === 0)) {
            throw new Error(`TextIndex: the image's slots of "${term}" are out of order, out of range or empty`)
          }
          last = slot
        }
        lists[t] = size === 1 ? data[from]! : new Postings(data.subarray(from, end), null, size)
        from = end
      }
      previous = term
    }
    // Terms strictly ascending, so distinct.
    this.fill(terms.slice(), lists)
    this.sorted = terms
    this.pending = []
    this.dead = 0
  }

  remove (slot: number, terms: Iterable<string>): void {
    for (const term of terms) this.removeOne(slot, term)
  }

  /** `remove` of a chat's words as they lie in its text (a word already removed is passed over). */
  removeText (slot: number, text: ChatText): void {
    const visit = (from: string, start: number, end: number): void => { this.removeOne(slot, cut(from, start, end)) }
    forEachWord(text.title, visit)
    forEachWord(text.description, visit)
  }

  private removeOne (slot: number, term: string): void {
    const t = this.termOf.get(term)
    if (t === undefined) return
    const list = this.lists[t]!
    if (typeof list === 'number') {
      if (list !== slot) return
    } else {
      list.remove(slot, this.universe)
      if (list.size !== 0) return
    }
    // The term's last chat went.
    this.termOf.delete(term)
    this.terms[t] = ''
    this.lists[t] = undefined
    this.freeTerms.push(t)
    const at = termLowerBound(this.pending, term)
    if (this.pending[at] === term) this.pending.splice(at, 1)
    else this.dead++
    if (this.dead > 1024 && this.dead * 2 > this.sorted.length) this.compact()
  }

  /**
   * Moves a slot from one chat text to the next (a write), looking only at the words of the
   * fields that changed: an unchanged field's words are on both sides. The new text's terms make
   * one set; a word of a changed old field that is not in it leaves the slot's terms, and the
   * words of a changed new field join them (`add` and `remove` take a slot already in or already
   * out as it is, so repeated words need no set of their own).
   */
  replace (slot: number, before: ChatText, after: ChatText): void {
    const titleChanged = before.title !== after.title
    const descriptionChanged = before.description !== after.description
    if (!titleChanged && !descriptionChanged) return
    const kept = new Set<string>()
    const fresh: string[] = []
    // A repeated word joins once; one the unchanged field already has needs nothing.
    forEachWord(after.title, (from, start, end) => {
      const word = cut(from, start, end)
      if (kept.has(word)) return
      kept.add(word)
      if (titleChanged) fresh.push(word)
    })
    forEachWord(after.description, (from, start, end) => {
      const word = cut(from, start, end)
      if (kept.has(word)) return
      kept.add(word)
      if (descriptionChanged) fresh.push(word)
    })
    const drop = (from: string, start: number, end: number): void => {
      const word = cut(from, start, end)
      if (!kept.has(word)) this.removeOne(slot, word)
    }
    if (titleChanged) forEachWord(before.title, drop)
    if (descriptionChanged) forEachWord(before.description, drop)
    for (const word of fresh) this.addOne(slot, word)
  }

  /**
   * The slots of the chats in which every query word starts some word. A word that starts one
   * term answers that term's list without a copy.
   */
  match (queryWords: readonly string[]): SlotSet {
    const sets = queryWords.map((w) => this.prefixUnion(w)).sort((a, b) => a.size - b.size)
    let result = sets[0] ?? new SortedSlots(new Int32Array(0))
    for (const set of sets.slice(1)) {
      if (result.size === 0) break
      result = result.intersect(set)
    }
    return result
  }

  get termCount (): number { return this.termOf.size }

  /** The slots of one term, or undefined when no chat has it. */
  private setOf (term: string): SlotSet | undefined {
    const t = this.termOf.get(term)
    if (t === undefined) return undefined
    const list = this.lists[t]!
    return typeof list === 'number' ? new SortedSlots(Int32Array.of(list)) : list.set()
  }

  /** Takes distinct terms and their lists, numbered by their place, into an empty index. */
  private fill (terms: string[], lists: (Postings | number)[]): void {
    this.terms = terms
    this.lists = lists
    // An index emptied by removes may hold freed numbers of its old terms.
    this.freeTerms.length = 0
    this.termOf.reserve(terms.length)
    for (let t = 0; t < terms.length; t++) this.termOf.add(terms[t]!, t)
  }

  private addTerm (term: string): void {
    const at = termLowerBound(this.sorted, term)
    if (this.sorted[at] === term) {
      this.dead--
      return
    }
    this.pending.splice(termLowerBound(this.pending, term), 0, term)
    if (this.pending.length >= Math.max(1024, 8 * Math.sqrt(this.sorted.length))) this.compact()
  }

  /** Merges the pending terms in and drops the dead ones. */
  private compact (): void {
    const fresh = this.pending
    const merged: string[] = []
    let i = 0
    let j = 0
    while (i < this.sorted.length || j < fresh.length) {
      const a = this.sorted[i]
      const b = fresh[j]
      const term = b === undefined || (a !== undefined && a < b) ? (i++, a!) : (j++, b)
      if (this.termOf.get(term) !== undefined) merged.push(term)
    }
    this.sorted = merged
    this.pending = []
    this.dead = 0
  }

  /** The slots of every term `prefix` starts: one term's own set, a merged sorted list when few, else a bit set. */
  private prefixUnion (prefix: string): SlotSet {
    const sets: SlotSet[] = []
    let n = 0
    const take = (term: string): void => {
      const set = this.setOf(term)
      if (set === undefined) return
      sets.push(set)
      n += set.size
    }
    for (let i = termLowerBound(this.sorted, prefix); i < this.sorted.length; i++) {
      const term = this.sorted[i]!
      if (!term.startsWith(prefix)) break
      take(term)
    }
    for (let i = termLowerBound(this.pending, prefix); i < this.pending.length; i++) {
      const term = this.pending[i]!
      if (!term.startsWith(prefix)) break
      take(term)
    }
    if (sets.length <= 1) return sets[0] ?? new SortedSlots(new Int32Array(0))
    if (n < DENSE_MIN && sets.every((s) => s instanceof SortedSlots)) {
      const all = new Int32Array(n)
      n = 0
      for (const set of sets) { all.set(set.slots, n); n += set.size }
      all.sort()
      let w = 0
      for (let r = 0; r < all.length; r++) if (w === 0 || all[r] !== all[w - 1]) all[w++] = all[r]!
      return new SortedSlots(all.subarray(0, w))
    }
    const bits = new Uint32Array((this.universe >>> 5) + 1)
    for (const set of sets) {
      if (set instanceof BitSlots) for (let w = 0; w < set.bits.length; w++) bits[w]! |= set.bits[w]!
      else set.forEach((slot) => { bits[slot >>> 5]! |= 1 << (slot & 31) })
    }
    return new BitSlots(bits)
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
