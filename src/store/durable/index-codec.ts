import { indexImage, walkById, type IndexCapture, type IndexImage } from '../memory/index-image.js'
import type { ChatRecord } from '../records.js'

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
 *
 * `LAYOUT` versions the bytes and also the rules that made them, which recovery trusts: the title
 * order (`compareTitles`) and the words (`chatTerms`). Bump it when either changes; an image of
 * another version is not loaded (the indexes are built). `index-codec.test.ts` pins those rules.
 */
const LAYOUT = 1
const HEADER_WORDS = 9

/**
 * The image of a capture taken with `chats` (in the snapshot's order), as pieces of bytes to
 * write in order, or undefined when there is no capture (the chats of several owners) or the
 * chats are not the capture's: then the snapshot saves no indexes. Lets the event loop through while it works.
 */
export async function encodeIndexImage (capture: IndexCapture | undefined, chats: readonly ChatRecord[]): Promise<Buffer[] | undefined> {
  if (capture === undefined) return undefined
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
  const reader = new IndexImageReader()
  reader.add(blob)
  return reader.decode(chats)
}

/**
 * Gathers an image's pieces as the snapshot's records bring them: straight into one buffer for
 * the postings (the text index keeps it, its lists views of it) and one for the rest (dropped once
 * loaded), both allocated once the header says their sizes. Never throws while gathering (it
 * runs inside the file's scan): a piece that does not fit is remembered, and `decode` throws.
 */
export class IndexImageReader {
  private header = Buffer.alloc(HEADER_WORDS * 4)
  private got = 0
  private sizes: number[] = []
  private rest: Buffer | undefined
  private data = new Int32Array(0)
  private dataStart = 0
  private total = 0
  private problem: string | undefined

  add (piece: Buffer): void {
    if (this.problem !== undefined) return
    let from = 0
    if (this.got < this.header.length) {
      from = piece.copy(this.header, this.got, 0, this.header.length - this.got)
      this.got += from
      if (this.got < this.header.length) return
      if (!this.layout()) return
      this.header.copy(this.rest!, 0)
    }
    const n = piece.length - from
    if (this.got + n > this.total) {
      this.problem = `the saved index image is longer than its header says (${this.total} bytes)`
      return
    }
    // The part before the postings, the postings, the part after.
    const dataEnd = this.dataStart + this.data.byteLength
    const dataBytes = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength)
    for (let at = this.got, i = from; i < piece.length;) {
      let next: number
      if (at < this.dataStart) {
        next = Math.min(piece.length, i + this.dataStart - at)
        piece.copy(this.rest!, at, i, next)
      } else if (at < dataEnd) {
        next = Math.min(piece.length, i + dataEnd - at)
        piece.copy(dataBytes, at - this.dataStart, i, next)
      } else {
        next = piece.length
        piece.copy(this.rest!, at - this.data.byteLength, i, next)
      }
      at += next - i
      i = next
    }
    this.got += n
  }

  decode (chats: readonly ChatRecord[]): IndexImage {
    if (this.problem === undefined && this.got < this.total) this.problem = `the saved index image is ${this.got} bytes, its header adds up to ${this.total}`
    if (this.problem === undefined && this.got < this.header.length) this.problem = 'the saved index image is shorter than its header'
    if (this.problem !== undefined) throw new Error(this.problem)
    const blob = this.rest!
    const [n, , , , p0, p1, p2, termCount] = this.sizes as [number, number, number, number, number, number, number, number, number, number]
    const used = this.header.readUInt32LE(4)
    const termBytes = this.header.readUInt32LE(32)
    if (n !== chats.length) throw new Error(`the saved index image is for ${n} chats, the snapshot holds ${chats.length}`)
    let at = HEADER_WORDS * 4
    const view = (size: number): Int32Array => {
      const array = new Int32Array(blob.buffer, blob.byteOffset + at, size)
      at += size * 4
      return array
    }
    const [slotOf, byCreated, byUpdated, byTitle, q0, q1, q2, termEnds, ends] = [n, n, n, n, p0, p1, p2, termCount, termCount].map(view) as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]
    const dense = new Uint8Array(blob.buffer, blob.byteOffset + at, termCount)
    at += termCount + padding(termCount)
    const joined = blob.toString('utf8', at, at + termBytes)
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
    return { used, records, byCreated, byUpdated, byTitle, byPriority: [q0, q1, q2], text: { terms, ends, dense, data: this.data } }
  }

  /** Reads the header's sizes and allocates the buffers; false when the header cannot be. */
  private layout (): boolean {
    const word = (i: number): number => this.header.readUInt32LE(i * 4)
    if (word(0) !== LAYOUT) {
      this.problem = `the saved index image has layout ${word(0)}, not ${LAYOUT}`
      return false
    }
    const n = word(2)
    const termCount = word(6)
    const termBytes = word(8)
    this.sizes = [n, n, n, n, word(3), word(4), word(5), termCount, termCount, word(7)]
    const before = HEADER_WORDS * 4 + this.sizes.slice(0, 9).reduce((a, b) => a + b, 0) * 4
    this.total = before + word(7) * 4 + termCount + padding(termCount) + termBytes + padding(termBytes)
    if (this.total > 2 ** 31) {
      this.problem = `the saved index image's header adds up to ${this.total} bytes`
      return false
    }
    this.dataStart = before
    this.data = new Int32Array(word(7))
    this.rest = Buffer.allocUnsafeSlow(this.total - this.data.byteLength)
    return true
  }

  /** Whether any piece came. */
  get started (): boolean { return this.got > 0 || this.problem !== undefined }
}

function bytesOf (array: Int32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength)
}

/** The slots in the order of their chats' ids: the three priority indexes (each by id) merged. */
function slotsInIdOrder (image: IndexCapture): Int32Array {
  const lists = image.byPriority
  const out = new Int32Array(lists[0].length + lists[1].length + lists[2].length)
  let o = 0
  walkById(lists, image.records, (slot) => { out[o++] = slot })
  return out
}
