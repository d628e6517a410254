import { compareTitles, PRIORITY_RANK, type IndexImage } from './indexes.js'
import type { Change, ChatRecord } from './memory-store.js'
import { chatTerms, type TextImage } from './text-index.js'

/**
 * A snapshot's index image with the changes logged after it applied in bulk, as an image again
 * (for `ChatIndexes.loadImage`): what one change at a time would give, in linear passes plus a
 * sort of the changed chats, instead of a full build or a write's cost per change. Every chat the
 * changes touch leaves its slot (a hole, reused later); its last version, unless deleted, gets a
 * new slot past the image's, so that its slots come after every saved one in each word's list.
 */
export function withTail (image: IndexImage, tail: Iterable<Change>): IndexImage {
  const last = new Map<string, ChatRecord | null>()
  for (const change of tail) {
    if (change.op === 'put') last.set(change.chat.id, change.chat)
    else last.set(change.id, null)
  }
  if (last.size === 0) return image
  const { used } = image
  const records = image.records.slice()
  const dirty = new Uint8Array(used)
  // The saved chats the changes touch, found by id in the priority indexes (each in id order).
  for (const id of last.keys()) {
    for (const slots of image.byPriority) {
      let lo = 0
      let hi = slots.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (records[slots[mid]!]!.id < id) lo = mid + 1
        else hi = mid
      }
      if (lo < slots.length && records[slots[lo]!]!.id === id) {
        dirty[slots[lo]!] = 1
        break
      }
    }
  }
  for (let slot = 0; slot < used; slot++) if (dirty[slot] === 1) records[slot] = undefined
  const fresh: number[] = []
  for (const record of last.values()) {
    if (record === null) continue
    fresh.push(records.length)
    records.push(record)
  }
  const keep = (slots: Int32Array): Int32Array => slots.filter((slot) => dirty[slot] !== 1)
  const byId = (a: number, b: number): number => { const x = records[a]!.id; const y = records[b]!.id; return x < y ? -1 : x > y ? 1 : 0 }
  const byCreated = (a: number, b: number): number => records[a]!.createdAt - records[b]!.createdAt || byId(a, b)
  const byUpdated = (a: number, b: number): number => records[a]!.updatedAt - records[b]!.updatedAt || byId(a, b)
  const byTitle = (a: number, b: number): number => { const x = records[a]!.title; const y = records[b]!.title; return (x === y ? 0 : compareTitles(x, y)) || byId(a, b) }
  const merged = (slots: Int32Array, added: number[], compare: (a: number, b: number) => number): Int32Array =>
    mergeSorted(keep(slots), Int32Array.from(added).sort(compare), compare)
  const ofPriority = (p: number): number[] => fresh.filter((slot) => PRIORITY_RANK[records[slot]!.priority] === p)
  return {
    used: records.length,
    records,
    byCreated: merged(image.byCreated, fresh, byCreated),
    byUpdated: merged(image.byUpdated, fresh, byUpdated),
    byTitle: merged(image.byTitle, fresh, byTitle),
    byPriority: [merged(image.byPriority[0], ofPriority(0), byId), merged(image.byPriority[1], ofPriority(1), byId), merged(image.byPriority[2], ofPriority(2), byId)],
    text: textWithTail(image.text, dirty, records, fresh)
  }
}

/** The two sorted lists as one: each entry of the short `b` finds its place in `a` by galloping from the last one's. */
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

/** The text image without the `dirty` slots, with the words of the chats in the `fresh` slots (all past the saved ones, ascending). */
function textWithTail (text: TextImage, dirty: Uint8Array, records: readonly (ChatRecord | undefined)[], fresh: readonly number[]): TextImage {
  const added = new Map<string, number[]>()
  for (const slot of fresh) {
    const r = records[slot]!
    for (const term of chatTerms(r.title, r.description)) {
      const slots = added.get(term)
      if (slots === undefined) added.set(term, [slot])
      else slots.push(slot)
    }
  }
  const dirtyBits = new Uint32Array((dirty.length >>> 5) + 1)
  for (let slot = 0; slot < dirty.length; slot++) if (dirty[slot] === 1) dirtyBits[slot >>> 5]! |= 1 << (slot & 31)
  const newTerms = [...added.keys()].sort() // by UTF-16 code units, as the dictionary
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
      const slots = added.get(other!)!
      room(slots.length).set(slots, k)
      k += slots.length
      emit(other!, false)
      j++
      continue
    }
    let more: number[] = []
    if (other === saved) { more = added.get(saved)!; j++ }
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
