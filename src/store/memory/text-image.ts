import { spread } from './string-table.js'
import { forEachWord, type ChatText } from './tokenizer.js'

/** The text index in bulk: the words of many chats at once for a build, and the index as flat arrays for a snapshot. */

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

/** Whether `term` is `from.slice(start, end)`, without cutting it. */
function sameWord (term: string, from: string, start: number, end: number): boolean {
  if (term.length !== end - start) return false
  for (let i = 0; i < term.length; i++) if (term.charCodeAt(i) !== from.charCodeAt(start + i)) return false
  return true
}
