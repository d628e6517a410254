import { indexImage, type IndexCapture, type IndexImage } from '../memory/indexes.js'
import type { ChatRecord } from '../memory/memory-store.js'

/**
 * The query indexes a snapshot saves beside its chats (its I records, in order, make one image),
 * so that recovery loads them instead of sorting and tokenizing a million chats again. All
 * little-endian; every array 4-byte aligned:
 *   header (u32 × 9): layout version, used (one past the highest slot), chats, the sizes of the
 *     three priority indexes, terms, postings words, bytes of the terms
 *   i32 arrays: the slot of each chat in the snapshot's order; the createdAt, updatedAt and title
 *     indexes; the three priority indexes; where each term ends (in UTF-16 units of the terms run
 *     together); where each term's postings end; the postings (per term its slots ascending, or
 *     the words of its bit set)
 *   u8 per term: 1 when its postings are a bit set (padded to 4 bytes)
 *   the terms run together, UTF-8 (sorted by UTF-16 code units, as the dictionary keeps them; padded)
 * Slots are the store's own row numbers, holes included, so the image is a copy of the indexes,
 * not something to rebuild.
 */
const LAYOUT = 1
const HEADER_WORDS = 9

/**
 * The image of a capture taken with `chats` (in the snapshot's order), as pieces of bytes to
 * write in order, or undefined when the chats are not the capture's (then the snapshot saves no
 * indexes). Lets the event loop through while it works.
 */
export async function encodeIndexImage (capture: IndexCapture, chats: readonly ChatRecord[]): Promise<Buffer[] | undefined> {
  const slotOf = slotsInIdOrder(capture)
  if (slotOf.length !== chats.length) return undefined
  for (let i = 0; i < chats.length; i++) if (capture.records[slotOf[i]!] !== chats[i]) return undefined
  const image = await indexImage(capture)
  const { terms, ends, dense, data } = image.text
  const termEnds = new Int32Array(terms.length)
  let chars = 0
  for (let t = 0; t < terms.length; t++) termEnds[t] = chars += terms[t]!.length
  const termBytes = Buffer.from(terms.join(''), 'utf8')
  const [p0, p1, p2] = image.byPriority
  const header = Int32Array.of(LAYOUT, image.used, chats.length, p0.length, p1.length, p2.length, terms.length, data.length, termBytes.length)
  const arrays = [header, slotOf, image.byCreated, image.byUpdated, image.byTitle, p0, p1, p2, termEnds, ends, data]
  return [...arrays.map(bytesOf), Buffer.from(dense.buffer, dense.byteOffset, dense.byteLength), Buffer.alloc(padding(dense.length)), termBytes, Buffer.alloc(padding(termBytes.length))]
}

const padding = (bytes: number): number => (4 - (bytes & 3)) & 3

/**
 * Reads an image back for the snapshot's chats (in the snapshot's order). Throws when its layout
 * does not add up; whether its slots hold together with the chats, `ChatIndexes.loadImage` checks.
 */
export function decodeIndexImage (blob: Buffer, chats: readonly ChatRecord[]): IndexImage {
  if (blob.byteOffset % 4 !== 0) blob = Buffer.from(blob) // Int32Array views need 4-byte alignment
  if (blob.length < HEADER_WORDS * 4) throw new Error('the saved index image is shorter than its header')
  const word = (i: number): number => blob.readUInt32LE(i * 4)
  if (word(0) !== LAYOUT) throw new Error(`the saved index image has layout ${word(0)}, not ${LAYOUT}`)
  const used = word(1)
  const n = word(2)
  const termCount = word(6)
  const termBytes = word(8)
  const sizes = [n, n, n, n, word(3), word(4), word(5), termCount, termCount, word(7)]
  const total = HEADER_WORDS * 4 + sizes.reduce((a, b) => a + b, 0) * 4 + termCount + padding(termCount) + termBytes + padding(termBytes)
  if (total !== blob.length) throw new Error(`the saved index image is ${blob.length} bytes, its header adds up to ${total}`)
  if (n !== chats.length) throw new Error(`the saved index image is for ${n} chats, the snapshot holds ${chats.length}`)
  let at = blob.byteOffset + HEADER_WORDS * 4
  const [slotOf, byCreated, byUpdated, byTitle, p0, p1, p2, termEnds, ends, data] = sizes.map((size) => {
    const array = new Int32Array(blob.buffer, at, size)
    at += size * 4
    return array
  }) as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]
  const dense = new Uint8Array(blob.buffer, at, termCount)
  at += termCount + padding(termCount)
  const joined = blob.toString('utf8', at - blob.byteOffset, at - blob.byteOffset + termBytes)
  if (joined.length !== (termCount === 0 ? 0 : termEnds[termCount - 1])) throw new Error('the saved index image\'s terms do not add up')
  // Arrays filled one by one: a large `new Array(n)` would be a slow dictionary-mode array.
  const terms: string[] = []
  for (let t = 0, from = 0; t < termCount; t++) {
    const end = termEnds[t]!
    if (end < from) throw new Error('the saved index image\'s terms do not add up')
    terms.push(joined.slice(from, end))
    from = end
  }
  const records: (ChatRecord | undefined)[] = []
  for (let slot = 0; slot < used; slot++) records.push(undefined)
  for (let i = 0; i < n; i++) {
    const slot = slotOf[i]!
    if (!(slot >= 0 && slot < used) || records[slot] !== undefined) throw new Error(`the saved index image puts chat ${i} in slot ${slot}`)
    records[slot] = chats[i]
  }
  // The postings get a buffer of their own (lists are views of it), so that the rest of the image can go once loaded.
  return { used, records, byCreated, byUpdated, byTitle, byPriority: [p0, p1, p2], text: { terms, ends, dense, data: data.slice() } }
}

function bytesOf (array: Int32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength)
}

/** The slots in the order of their chats' ids: the three priority indexes (each by id) merged. */
function slotsInIdOrder (image: IndexCapture): Int32Array {
  const lists = image.byPriority
  const records = image.records
  const at = [0, 0, 0]
  const out = new Int32Array(lists[0].length + lists[1].length + lists[2].length)
  for (let o = 0; o < out.length; o++) {
    let best = -1
    let bestId = ''
    for (let p = 0; p < 3; p++) {
      if (at[p]! >= lists[p]!.length) continue
      const id = records[lists[p]![at[p]!]!]!.id
      if (best === -1 || id < bestId) { best = p; bestId = id }
    }
    out[o] = lists[best]![at[best]!++]!
  }
  return out
}
