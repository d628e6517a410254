import { FNV_PRIME, HASH_BASIS, spread, stringHash, StringTable } from './string-table.js'

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

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/

/** The words of a text: folded, split on anything that is not a Unicode letter or digit. */
export function words (text: string): string[] {
  const out: string[] = []
  forEachWord(text, (from, start, end) => { out.push(cut(from, start, end)) })
  return out
}

/**
 * Calls `visit` with each word of a text, in order, as `words` gives them: the word is
 * `from.slice(start, end)`, left for `visit` to cut when it needs it, and `hash` is its
 * `stringHash`. ASCII text (most of it) takes a fast path: there folding is lower-casing, and the
 * letters and digits are a-z, 0-9.
 */
export function forEachWord (text: string, visit: (from: string, start: number, end: number, hash: number) => void): void {
  if (!ASCII.test(text)) {
    for (const w of unicodeWords(text)) visit(w, 0, w.length, stringHash(w))
    return
  }
  const lower = text.toLowerCase()
  // Words cut from the chat's own string share its memory; a folded copy would be kept for them.
  const from = lower === text ? text : lower
  let start = -1
  let hash = 0
  for (let i = 0; i < from.length; i++) {
    const c = from.charCodeAt(i)
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      if (start < 0) { start = i; hash = HASH_BASIS }
      hash = Math.imul(hash ^ c, FNV_PRIME)
    } else if (start >= 0) {
      visit(from, start, i, hash)
      start = -1
    }
  }
  if (start >= 0) visit(from, start, from.length, hash)
}

/** `words` for any text: NFD-folded, split with the Unicode classes. */
export function unicodeWords (text: string): string[] {
  const folded = fold(text)
  return (folded === text ? text : folded).split(SEPARATORS).filter((w) => w.length > 0)
}

/** The distinct words of a chat's searchable text. */
export function chatTerms (title: string, description: string): Set<string> {
  const terms = new Set<string>()
  const add = (from: string, start: number, end: number): void => { terms.add(cut(from, start, end)) }
  forEachWord(title, add)
  forEachWord(description, add)
  return terms
}

/** What the text index reads of a chat. */
export interface ChatText { readonly title: string, readonly description: string }

/** A word as a string: the whole of `from` when it is all of it, else a slice. */
function cut (from: string, start: number, end: number): string {
  return start === 0 && end === from.length ? from : from.slice(start, end)
}

/**
 * The slots of a term in more than one chat (a term in one chat keeps its slot as a number, see
 * `TextIndex.lists`): a sorted list, `size` long, in `list` (lists intersect by galloping,
 * membership by binary search), or, once the term is in at least one chat in 32 and in DENSE_MIN
 * chats, a bit set over the slots in `bits`: smaller then, O(1) to test, and two of them
 * intersect word by word.
 */
const DENSE_MIN = 4096

class Postings {
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

/** The distinct words of some chats (`collectTerms`). */
export interface CollectedTerms {
  /** Each word once, in the order first met. */
  terms: string[]
  /** counts[t]: the number of chats with term t. */
  counts: number[]
  /** The term numbers of each chat's distinct words, chat after chat: those of the i-th chat end at ends[i]. */
  occurrences: Int32Array
  ends: Int32Array
}

/**
 * The distinct words of the chats in `slots` (an empty slot has none), for a bulk build. Words
 * are looked up where they lie in the text, in a hash table of their own, so that only a new
 * term is cut out as a string (a chat's words are mostly known ones).
 */
export function collectTerms (chats: ArrayLike<ChatText | undefined>, slots: ArrayLike<number>): CollectedTerms {
  const terms: string[] = []
  const hashes: number[] = []
  const counts: number[] = []
  const lastSeen: number[] = []
  let mask = 4095
  let table = new Int32Array(mask + 1).fill(-1)
  let i = 0
  let occurrences = new Int32Array(1 << 16)
  let k = 0
  const visit = (from: string, start: number, end: number, raw: number): void => {
    const hash = spread(raw)
    let at = hash & mask
    let id = table[at]!
    for (; id !== -1; at = (at + 1) & mask, id = table[at]!) {
      if (hashes[id] === hash && sameWord(terms[id]!, from, start, end)) break
    }
    if (id === -1) {
      id = terms.length
      table[at] = id
      terms.push(start === 0 && end === from.length ? from : from.slice(start, end))
      hashes.push(hash)
      counts.push(0)
      lastSeen.push(-1)
      if (terms.length * 2 > mask) {
        mask = mask * 2 + 1
        table = new Int32Array(mask + 1).fill(-1)
        for (let t = 0; t < hashes.length; t++) {
          let free = hashes[t]! & mask
          while (table[free] !== -1) free = (free + 1) & mask
          table[free] = t
        }
      }
    }
    if (lastSeen[id] === i) return
    lastSeen[id] = i
    counts[id]!++
    if (k === occurrences.length) {
      const grown = new Int32Array(k * 2)
      grown.set(occurrences)
      occurrences = grown
    }
    occurrences[k++] = id
  }
  const ends = new Int32Array(slots.length)
  for (; i < slots.length; i++) {
    const chat = chats[slots[i]!]
    if (chat !== undefined) {
      forEachWord(chat.title, visit)
      forEachWord(chat.description, visit)
    }
    ends[i] = k
  }
  return { terms, counts, occurrences, ends }
}

/**
 * The text index as flat arrays (`TextIndex.loadImage`): term t's postings are
 * `data[ends[t - 1] .. ends[t]]` (ends[-1] = 0), its slots ascending, or when `dense[t]` is 1 the
 * words of its bit set.
 */
export interface TextImage {
  /** The terms, sorted by UTF-16 code units (the dictionary's order). */
  terms: string[]
  ends: Int32Array
  dense: Uint8Array
  data: Int32Array
}

/** `TextIndex.toImage`'s copy: the terms in the postings' own order, with a copy of the dictionary to sort them by. */
export interface TextCapture extends TextImage {
  sorted: string[]
  pending: string[]
}

/**
 * Puts a capture in dictionary order, `budgetMs` of work at a time with the event loop let through
 * between (a snapshot makes it while requests go on).
 */
export async function textImage (capture: TextCapture, budgetMs = 20): Promise<TextImage> {
  const { terms, ends, dense, data, sorted, pending } = capture
  let started = performance.now()
  const pause = async (): Promise<void> => {
    if (performance.now() - started < budgetMs) return
    await new Promise((resolve) => setImmediate(resolve))
    started = performance.now()
  }
  const indexOf = new Map<string, number>()
  for (let t = 0; t < terms.length; t++) {
    indexOf.set(terms[t]!, t)
    if ((t & 4095) === 0) await pause()
  }
  const out: TextImage = { terms: [], ends: new Int32Array(terms.length), dense: new Uint8Array(terms.length), data: new Int32Array(data.length) }
  let k = 0
  let n = 0
  for (let i = 0, j = 0; i < sorted.length || j < pending.length;) {
    const a = sorted[i]
    const b = pending[j]
    let term: string
    if (b === undefined || (a !== undefined && a < b)) { term = a!; i++ } else { term = b; j++ }
    const t = indexOf.get(term)
    if (t === undefined) continue // a dead term
    const from = t === 0 ? 0 : ends[t - 1]!
    out.data.set(data.subarray(from, ends[t]), k)
    k += ends[t]! - from
    out.terms.push(term)
    out.dense[n] = dense[t]!
    out.ends[n++] = k
    if ((n & 4095) === 0) await pause()
  }
  if (n !== terms.length) throw new Error('TextIndex: the dictionary and the postings disagree')
  return out
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

function popCount (word: number): number {
  let v = word - ((word >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

/** Whether `term` is `from.slice(start, end)`, without cutting it. */
function sameWord (term: string, from: string, start: number, end: number): boolean {
  if (term.length !== end - start) return false
  for (let i = 0; i < term.length; i++) if (term.charCodeAt(i) !== from.charCodeAt(start + i)) return false
  return true
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
