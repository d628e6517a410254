import type { Priority } from '../types.js'

/** The keys the indexes sort by, and how they compare: priorities by rank, titles by code point of their lower-cased form. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { low: 0, medium: 1, high: 2 }

/** Compares two strings by Unicode code point (JS `<` compares UTF-16 code units, which differs past U+D7FF). */
export function compareCodePoints (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointOrder(x) - codePointOrder(y)
  }
  return a.length - b.length
}

/** Surrogates (U+D800–DFFF, halves of code points past U+FFFF) move above U+E000–FFFF. */
function codePointOrder (unit: number): number {
  return unit < 0xd800 ? unit : unit >= 0xe000 ? unit - 0x800 : unit + 0x2000
}

export function titleKey (title: string): string {
  return title.toLowerCase()
}

/**
 * `compareCodePoints(titleKey(x), titleKey(y))` by sign, without making the two lower-cased
 * copies while both titles are ASCII up to where they differ (lower-casing an ASCII character
 * does not depend on its neighbours, and ASCII code units order as code points); from the first
 * non-ASCII character on, the keys themselves are compared.
 */
export function compareTitles (x: string, y: string): number {
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) {
    let c = x.charCodeAt(i)
    let d = y.charCodeAt(i)
    if ((c | d) >= 0x80) return compareCodePoints(titleKey(x), titleKey(y))
    if (c >= 65 && c <= 90) c += 32
    if (d >= 65 && d <= 90) d += 32
    if (c !== d) return c - d
  }
  // One is an ASCII prefix of the other, as keys too (a character past it lower-cases to at least one).
  return x.length - y.length
}

/** How many characters each of a title's three head numbers holds, and their base (a character is 1–128, 0 past the end). */
const HEAD_CHARS = 7
const HEAD_BASE = 129
/** Characters the three heads hold together. */
const HEADS_HOLD = 3 * HEAD_CHARS
/**
 * The order of two slots' titles by their heads (three numbers a slot in `heads`, as
 * `setTitleHeads` writes them), or NaN when the heads are equal and do not hold the whole keys:
 * then only the titles can tell (`compareTitles`).
 */
export function compareTitleHeads (heads: Float64Array, a: number, b: number): number {
  const i = a * 3
  const j = b * 3
  const d = heads[i]! - heads[j]! || heads[i + 1]! - heads[j + 1]! || heads[i + 2]! - heads[j + 2]!
  return d !== 0 || heads[i + 2]! % 2 === 0 ? d : NaN
}

/**
 * Writes at `heads[at…at+2]` three numbers that order as the title's key (`titleKey`, code point
 * order) does up to where they differ: the key's first 21 characters, 7 to a number, each as its
 * code plus one (0 past the end, so a shorter key sorts first). A character from 127 up counts
 * as 128 and ends what the numbers know: it sorts after every character below 127 in both
 * orders, but past it code units no longer order as code points. The last number is doubled,
 * plus 1 when the numbers do not hold the whole key (longer than 21 characters, or one from 127
 * up): equal heads with that bit clear are equal keys; with it set, the titles must be compared.
 * While the first 21 characters are under 127 they are lower-cased here (as `titleKey` would);
 * otherwise the key is made.
 */
export function setTitleHeads (title: string, heads: Float64Array, at: number): void {
  let key = title
  for (let i = 0; i < HEADS_HOLD && i < title.length; i++) {
    if (title.charCodeAt(i) >= 127) { key = titleKey(title); break }
  }
  let partial = key.length > HEADS_HOLD
  let stopped = false
  let i = 0
  for (let k = 0; k < 3; k++) {
    let p = 0
    for (let n = 0; n < HEAD_CHARS; n++, i++) {
      let c = 0
      if (!stopped && i < key.length) {
        c = key.charCodeAt(i)
        if (c >= 127) {
          c = 128
          stopped = partial = true
        } else {
          if (c >= 65 && c <= 90) c += 32
          c += 1
        }
      }
      p = p * HEAD_BASE + c
    }
    heads[at + k] = k === 2 ? p * 2 + (partial ? 1 : 0) : p
  }
}
