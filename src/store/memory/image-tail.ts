import { compareTitleHeads, compareTitles, PRIORITY_RANK, setTitleHeads } from './sort-keys.js'
import { walkById, type IndexImage } from './index-image.js'
import type { Change, ChatRecord } from '../records.js'
import { collectTerms, type TextImage } from './text-image.js'

/** A saved image with a log merged in: `withTail`'s answer, with every filled slot in id order. */
export interface MergedImage extends IndexImage {
  byId: Int32Array
}

/**
 * A snapshot's index image with the changes logged after it applied in bulk, as an image again
 * (for `ChatIndexes.loadImage`): what one change at a time would give, in passes linear in the
 * image plus a sort of the chats the changes touch, so that a short log costs far less than a
 * build (about twice a build's cost per chat changed: see `TAIL_SHARE`). Every chat the changes touch
 * leaves its slot (a hole, reused later); its last version, unless deleted, gets a new slot past
 * the image's, so that its slots come after every saved one in each word's list. `slotOf` finds
 * a saved chat's slot by id.
 *
 * Ties between keys are broken by id, as the indexes do; ids are compared as strings only in one
 * walk of every chat in id order (`inIdOrder`) and a sort of the chats the image did not hold:
 * everything after compares each chat's rank in that order, a number.
 */
export function withTail (image: IndexImage, tail: readonly Change[], slotOf: (id: string) => number | undefined): MergedImage {
  const { used } = image
  const records = image.records.slice()
  const dirty = new Uint8Array(used)
  /** The new slot of a saved chat the changes updated (else -1). */
  const moved = new Int32Array(used).fill(-1)
  const fresh: number[] = []
  const created: number[] = []
  const seen = new Set<string>()
  // From the last change back, so that the first one met for a chat is its last version.
  for (let i = tail.length - 1; i >= 0; i--) {
    const change = tail[i]!
    const id = change.op === 'put' ? change.chat.id : change.id
    const slot = slotOf(id)
    if (slot === undefined ? seen.has(id) : dirty[slot] === 1) continue
    if (slot === undefined) seen.add(id)
    else dirty[slot] = 1
    if (change.op !== 'put') continue
    if (slot !== undefined) moved[slot] = records.length
    else created.push(records.length)
    fresh.push(records.length)
    records.push(change.chat)
  }
  for (let slot = 0; slot < used; slot++) if (dirty[slot] === 1) records[slot] = undefined

  const n = records.length
  const byId = inIdOrder(image.byPriority, image.records, moved, dirty, created.sort((a, b) => compareIds(records[a]!.id, records[b]!.id)), records)
  const rank = new Float64Array(n)
  for (let r = 0; r < byId.length; r++) rank[byId[r]!] = r
  const byPriority: [Int32Array, Int32Array, Int32Array] = [new Int32Array(byId.length), new Int32Array(byId.length), new Int32Array(byId.length)]
  const sizes = [0, 0, 0]
  for (const slot of byId) {
    const p = PRIORITY_RANK[records[slot]!.priority]
    byPriority[p]![sizes[p]!++] = slot
  }

  // Each title's heads (`setTitleHeads`), worked out when first compared (NaN until then): merging the changed chats in compares few of the saved ones.
  const heads = new Float64Array(n * 3).fill(NaN)
  const withHeads = (slot: number): void => {
    if (Number.isNaN(heads[slot * 3])) setTitleHeads(records[slot]!.title, heads, slot * 3)
  }
  const byCreated = (a: number, b: number): number => records[a]!.createdAt - records[b]!.createdAt || rank[a]! - rank[b]!
  const byUpdated = (a: number, b: number): number => records[a]!.updatedAt - records[b]!.updatedAt || rank[a]! - rank[b]!
  const byTitle = (a: number, b: number): number => {
    withHeads(a)
    withHeads(b)
    let d = compareTitleHeads(heads, a, b)
    if (Number.isNaN(d)) {
      const x = records[a]!.title
      const y = records[b]!.title
      d = x === y ? 0 : compareTitles(x, y)
    }
    return d || rank[a]! - rank[b]!
  }
  const kept = (slots: Int32Array): Int32Array => {
    const out = new Int32Array(slots.length)
    let k = 0
    for (const slot of slots) if (dirty[slot] !== 1) out[k++] = slot
    return out.subarray(0, k)
  }
  const merged = (slots: Int32Array, compare: (a: number, b: number) => number): Int32Array =>
    mergeSorted(kept(slots), Int32Array.from(fresh).sort(compare), compare)
  return {
    used: n,
    records,
    byCreated: merged(image.byCreated, byCreated),
    byUpdated: merged(image.byUpdated, byUpdated),
    byTitle: merged(image.byTitle, byTitle),
    byPriority: [byPriority[0].slice(0, sizes[0]), byPriority[1].slice(0, sizes[1]), byPriority[2].slice(0, sizes[2])],
    text: textWithTail(image.text, dirty, records, fresh),
    byId
  }
}

function compareIds (x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Every filled slot of the merged image in id order: the saved chats walked by id (the three
 * priority lists merged, each in id order), a chat the changes updated taking its new slot where
 * its old one was, a deleted one left out, and the `created` chats (sorted by id) merged in.
 */
function inIdOrder (lists: IndexImage['byPriority'], saved: IndexImage['records'], moved: Int32Array, dirty: Uint8Array, created: readonly number[], records: IndexImage['records']): Int32Array {
  const out = new Int32Array(lists[0].length + lists[1].length + lists[2].length + created.length)
  let k = 0
  let c = 0
  walkById(lists, saved, (slot, id) => {
    while (c < created.length && records[created[c]!]!.id < id) out[k++] = created[c++]!
    if (dirty[slot] !== 1) out[k++] = slot
    else if (moved[slot] !== -1) out[k++] = moved[slot]!
  })
  while (c < created.length) out[k++] = created[c++]!
  return out.subarray(0, k)
}

/** The two sorted lists as one: each entry of `b` finds its place in `a` by galloping from the last one's. */
function mergeSorted (a: Int32Array, b: Int32Array, compare: (x: number, y: number) => number): Int32Array {
  if (b.length === 0) return a
  const out = new Int32Array(a.length + b.length)
  let i = 0
  let k = 0
  for (const y of b) {
    let lo = i
    let hi = i
    for (let step = 1; hi < a.length && compare(a[hi]!, y) <= 0; step *= 2) { lo = hi + 1; hi += step }
    hi = Math.min(hi, a.length)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(a[mid]!, y) <= 0) lo = mid + 1
      else hi = mid
    }
    out.set(a.subarray(i, lo), k)
    k += lo - i
    i = lo
    out[k++] = y
  }
  out.set(a.subarray(i), k)
  return out
}

/** The words of the chats in the `fresh` slots (ascending): the terms in dictionary order, each with its slots, ascending. */
function freshWords (records: readonly (ChatRecord | undefined)[], fresh: readonly number[]): { terms: string[], slotsOf: (t: number) => Int32Array } {
  const { terms, counts, occurrences, ends } = collectTerms(records, fresh)
  const starts = new Int32Array(terms.length + 1)
  for (let t = 0; t < terms.length; t++) starts[t + 1] = starts[t]! + counts[t]!
  const next = starts.slice(0, terms.length)
  const slots = new Int32Array(starts[terms.length]!)
  for (let from = 0, i = 0; i < fresh.length; i++) {
    for (const end = ends[i]!; from < end; from++) slots[next[occurrences[from]!]!++] = fresh[i]!
  }
  const order = new Int32Array(terms.length)
  for (let t = 0; t < terms.length; t++) order[t] = t
  order.sort((a, b) => terms[a]! < terms[b]! ? -1 : 1) // by UTF-16 code units, as the dictionary; no two are equal
  return { terms: Array.from(order, (t) => terms[t]!), slotsOf: (t) => slots.subarray(starts[order[t]!], starts[order[t]! + 1]) }
}

const NONE: Int32Array = new Int32Array(0)

/** The text image without the `dirty` slots, with the words of the chats in the `fresh` slots (all past the saved ones, ascending). */
function textWithTail (text: TextImage, dirty: Uint8Array, records: readonly (ChatRecord | undefined)[], fresh: readonly number[]): TextImage {
  const { terms: newTerms, slotsOf } = freshWords(records, fresh)
  const dirtyBits = new Uint32Array((dirty.length >>> 5) + 1)
  for (let slot = 0; slot < dirty.length; slot++) if (dirty[slot] === 1) dirtyBits[slot >>> 5]! |= 1 << (slot & 31)
  const most = text.terms.length + newTerms.length
  const out: TextImage = { terms: [], ends: new Int32Array(most), dense: new Uint8Array(most), data: new Int32Array(text.data.length + fresh.length * 8) }
  let k = 0
  let n = 0
  const room = (count: number): Int32Array => {
    if (k + count > out.data.length) {
      const grown = new Int32Array(Math.max(k + count, out.data.length * 2))
      grown.set(out.data.subarray(0, k))
      out.data = grown
    }
    return out.data
  }
  const emit = (term: string, dense: boolean): void => {
    out.terms.push(term)
    out.dense[n] = dense ? 1 : 0
    out.ends[n++] = k
  }
  const universe = records.length
  for (let t = 0, j = 0, from = 0; t < text.terms.length || j < newTerms.length;) {
    const saved = text.terms[t]
    const other = newTerms[j]
    if (saved === undefined || (other !== undefined && other < saved)) {
      // A word only the changes have.
      const slots = slotsOf(j)
      room(slots.length).set(slots, k)
      k += slots.length
      emit(other!, false)
      j++
      continue
    }
    let more = NONE
    if (other === saved) more = slotsOf(j++)
    const end = text.ends[t]!
    if (text.dense[t] === 1) {
      const words = Math.max(end - from, (universe >>> 5) + 1)
      const data = room(words)
      let any = false
      for (let w = 0; w < words; w++) {
        const word = w < end - from ? text.data[from + w]! & ~(dirtyBits[w] ?? 0) : 0
        data[k + w] = word
        if (word !== 0) any = true
      }
      for (const slot of more) data[k + (slot >>> 5)]! |= 1 << (slot & 31)
      if (any || more.length > 0) {
        k += words
        emit(saved, true)
      }
    } else {
      const before = k
      const data = room(end - from + more.length)
      for (let i = from; i < end; i++) {
        const slot = text.data[i]!
        if (dirty[slot] !== 1) data[k++] = slot
      }
      data.set(more, k)
      k += more.length
      if (k > before) emit(saved, false)
    }
    from = end
    t++
  }
  return { terms: out.terms, ends: out.ends.slice(0, n), dense: out.dense.slice(0, n), data: out.data.slice(0, k) }
}
