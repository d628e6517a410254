import { crc32 } from 'node:zlib'
import type { Change, ChatRecord } from '../records.js'
import { DEFAULT_OWNER, PRIORITIES } from '../types.js'

/**
 * The on-disk format of the log and of snapshots. A file is a 16-byte header (magic, format
 * version, kind) then records; a record is its payload's length (u32 LE), the payload's CRC-32
 * (u32 LE), then the payload, whose first byte is the operation:
 *   P (put): priority (u8), isActive (u8), createdAt and updatedAt (f64 LE, epoch ms), version
 *            (u32 LE), the id (36 ASCII bytes), then title and description (each u32 LE length + UTF-8)
 *   O (put, of an owner other than `default`): the owner (u16 LE length + UTF-8), then as P from
 *            the priority on
 *   D (delete): the id (36 bytes; ids are unique across owners)
 *   I (snapshots, after the puts): a piece of the saved query indexes (`index-codec.ts`), the
 *            pieces in order making one image
 *   E (a snapshot's last record): the number of chats in it (u32 LE)
 * A put carries the whole chat after the change, so replaying a record twice gives the same store.
 * Version 2 added the I records; a version 1 file (no I records) reads as before, and its
 * snapshot's indexes are built from the chats. Version 3 added the O records: a P record is a
 * chat of the owner `default`, so files written before owners existed read as that owner's.
 */
export const FORMAT_VERSION = 3
/** The oldest version this build reads. */
export const OLDEST_VERSION = 1
export const HEADER_BYTES = 16
export const RECORD_HEADER_BYTES = 8
/** Far above any chat the API accepts; a larger length can only be damage. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024

const MAGIC = Buffer.from('CHATDURA', 'latin1')
export const FileKind = { log: 1, snapshot: 2 } as const
export type FileKind = typeof FileKind[keyof typeof FileKind]

const OP_PUT = 0x50 // 'P'
const OP_PUT_OWNED = 0x4f // 'O'
const OP_DELETE = 0x44 // 'D'
const OP_END = 0x45 // 'E': a snapshot's last record, carrying its count
const OP_INDEX = 0x49 // 'I': a piece of a snapshot's saved indexes

/** The most bytes of the index image one I record carries. */
export const INDEX_PIECE_BYTES = MAX_PAYLOAD_BYTES - 1

/** `bytes` of an index piece read back is a view into the reader's buffer: copy it before the next read. */
export type Entry = Change | { op: 'end', count: number } | { op: 'index', bytes: Buffer }

export function encodeHeader (kind: FileKind): Buffer {
  const header = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(header, 0)
  header.writeUInt16LE(FORMAT_VERSION, 8)
  header.writeUInt16LE(kind, 10)
  return header
}

/** Why a header cannot be read, or undefined when it is good. */
export function checkHeader (bytes: Buffer, kind: FileKind): string | undefined {
  if (bytes.length < HEADER_BYTES) return 'the file is shorter than its header'
  if (!bytes.subarray(0, 8).equals(MAGIC)) return 'not a chat-store file (bad magic)'
  const version = bytes.readUInt16LE(8)
  if (version < OLDEST_VERSION || version > FORMAT_VERSION) return `format version ${version}; this build reads versions ${OLDEST_VERSION} to ${FORMAT_VERSION}`
  if (bytes.readUInt16LE(10) !== kind) return `not a ${kind === FileKind.log ? 'log' : 'snapshot'} file`
  return undefined
}

const ID_BYTES = 36
const PUT_FIXED = 1 + 1 + 1 + 8 + 8 + 4 + ID_BYTES + 4 + 4

export function encodeEntry (entry: Entry): Buffer {
  let length: number
  const owner = entry.op === 'put' && entry.chat.owner !== DEFAULT_OWNER ? entry.chat.owner : undefined
  const ownerBytes = owner === undefined ? 0 : 2 + Buffer.byteLength(owner)
  if (entry.op === 'put') length = PUT_FIXED + ownerBytes + Buffer.byteLength(entry.chat.title) + Buffer.byteLength(entry.chat.description)
  else if (entry.op === 'delete') length = 1 + ID_BYTES
  else if (entry.op === 'index') length = 1 + entry.bytes.length
  else length = 1 + 4
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  let at = RECORD_HEADER_BYTES
  if (entry.op === 'put') {
    const c = entry.chat
    if (owner === undefined) {
      record[at++] = OP_PUT
    } else {
      record[at++] = OP_PUT_OWNED
      at = writeString16(record, owner, at)
    }
    record[at++] = PRIORITIES.indexOf(c.priority)
    record[at++] = c.isActive ? 1 : 0
    at = record.writeDoubleLE(c.createdAt, at)
    at = record.writeDoubleLE(c.updatedAt, at)
    at = record.writeUInt32LE(c.version, at)
    at += record.write(c.id, at, ID_BYTES, 'latin1')
    at = writeString(record, c.title, at)
    writeString(record, c.description, at)
  } else if (entry.op === 'delete') {
    record[at++] = OP_DELETE
    record.write(entry.id, at, ID_BYTES, 'latin1')
  } else if (entry.op === 'index') {
    record[at++] = OP_INDEX
    entry.bytes.copy(record, at)
  } else {
    record[at++] = OP_END
    record.writeUInt32LE(entry.count, at)
  }
  record.writeUInt32LE(length, 0)
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4)
  return record
}

function writeString16 (into: Buffer, s: string, at: number): number {
  const n = into.write(s, at + 2, 'utf8')
  into.writeUInt16LE(n, at)
  return at + 2 + n
}

function writeString (into: Buffer, s: string, at: number): number {
  const n = into.write(s, at + 4, 'utf8')
  into.writeUInt32LE(n, at)
  return at + 4 + n
}

export type Decoded =
  | { kind: 'entry', entry: Entry, size: number }
  /** The bytes end before the record does. */
  | { kind: 'short' }
  | { kind: 'damaged', reason: string }

/** Reads the record at `at`, checking its length, CRC and shape. */
export function decodeRecord (bytes: Buffer, at: number): Decoded {
  if (bytes.length - at < RECORD_HEADER_BYTES) return { kind: 'short' }
  const length = bytes.readUInt32LE(at)
  if (length === 0 || length > MAX_PAYLOAD_BYTES) return { kind: 'damaged', reason: `impossible record length ${length}` }
  const start = at + RECORD_HEADER_BYTES
  const end = start + length
  if (end > bytes.length) return { kind: 'short' }
  if (crc32Of(bytes, start, end) !== bytes.readUInt32LE(at + 4)) return { kind: 'damaged', reason: 'CRC-32 mismatch' }
  const entry = parsePayload(bytes, start, end)
  if (entry === undefined) return { kind: 'damaged', reason: 'a record with a good CRC but an unreadable payload' }
  return { kind: 'entry', entry, size: RECORD_HEADER_BYTES + length }
}

/** The payload is `b[p .. end]`, read in place (recovery decodes a million of them: no view each). */
function parsePayload (b: Buffer, p: number, end: number): Entry | undefined {
  const length = end - p
  switch (b[p]) {
    case OP_PUT: return parsePut(b, p, end, DEFAULT_OWNER)
    case OP_PUT_OWNED: return parseOwnedPut(b, p, end)
    case OP_DELETE: return length === 1 + ID_BYTES ? { op: 'delete', id: b.toString('latin1', p + 1, end) } : undefined
    case OP_END: return length === 5 ? { op: 'end', count: b.readUInt32LE(p + 1) } : undefined
    case OP_INDEX: return length > 1 ? { op: 'index', bytes: b.subarray(p + 1, end) } : undefined
    default: return undefined
  }
}

/** Owners as decoded: one string each, however many of their records are read (a million chats share a few owners). */
const owners = new Map<string, string>()

function parseOwnedPut (b: Buffer, p: number, end: number): Entry | undefined {
  if (end - p < 3) return undefined
  const length = b.readUInt16LE(p + 1)
  if (length === 0 || p + 3 + length > end) return undefined
  const decoded = b.toString('utf8', p + 3, p + 3 + length)
  let owner = owners.get(decoded)
  if (owner === undefined) {
    if (owners.size >= 65_536) owners.clear()
    owners.set(decoded, owner = decoded)
  }
  // The rest is laid out as a P record's from its priority byte on (`parsePut` does not read the op byte).
  return parsePut(b, p + 2 + length, end, owner)
}

function parsePut (b: Buffer, p: number, end: number, owner: string): Entry | undefined {
  if (end - p < PUT_FIXED) return undefined
  const priority = PRIORITIES[b[p + 1]!]
  const active = b[p + 2]!
  if (priority === undefined || active > 1) return undefined
  const titleAt = p + PUT_FIXED - 8
  const titleBytes = b.readUInt32LE(titleAt)
  const descriptionAt = titleAt + 4 + titleBytes
  if (descriptionAt + 4 > end) return undefined
  const descriptionBytes = b.readUInt32LE(descriptionAt)
  if (descriptionAt + 4 + descriptionBytes !== end) return undefined
  const chat: ChatRecord = {
    owner,
    id: b.toString('latin1', p + 23, p + 23 + ID_BYTES),
    title: b.toString('utf8', titleAt + 4, descriptionAt),
    description: b.toString('utf8', descriptionAt + 4, end),
    priority,
    isActive: active === 1,
    createdAt: b.readDoubleLE(p + 3),
    updatedAt: b.readDoubleLE(p + 11),
    version: b.readUInt32LE(p + 19)
  }
  return { op: 'put', chat }
}

/** CRC-32 (IEEE, as zlib's) tables for slicing by 8: table t at [t * 256, t * 256 + 256). */
const CRC_TABLE = ((): Int32Array => {
  const table = new Int32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c
  }
  for (let t = 1; t < 8; t++) {
    for (let n = 0; n < 256; n++) {
      const previous = table[(t - 1) * 256 + n]!
      table[t * 256 + n] = (previous >>> 8) ^ table[previous & 0xff]!
    }
  }
  return table
})()

/**
 * zlib's CRC-32 of `b[from .. to]`, computed in place: for records of a few hundred bytes the
 * call into zlib and the view it needs cost more than the sum itself.
 */
export function crc32Of (b: Uint8Array, from: number, to: number): number {
  const t = CRC_TABLE
  let c = -1
  let i = from
  for (; i + 8 <= to; i += 8) {
    const x = c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))
    c = t[1792 + (x & 0xff)]! ^ t[1536 + ((x >>> 8) & 0xff)]! ^ t[1280 + ((x >>> 16) & 0xff)]! ^ t[1024 + (x >>> 24)]! ^
      t[768 + b[i + 4]!]! ^ t[512 + b[i + 5]!]! ^ t[256 + b[i + 6]!]! ^ t[b[i + 7]!]!
  }
  for (; i < to; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ -1) >>> 0
}
