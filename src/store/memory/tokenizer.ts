import { FNV_PRIME, HASH_BASIS, stringHash } from './string-table.js'

/** The words of the searchable text: how titles and descriptions are folded and split. */

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
export function cut (from: string, start: number, end: number): string {
  return start === 0 && end === from.length ? from : from.slice(start, end)
}
