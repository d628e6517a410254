import { crc32 } from 'node:zlib'
import type { Change, ChatRecord, KeptKey, KeyRecord } from '../records.js'
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
 *   C (logs: a change with its place in the owner's feed): seq (f64 LE), flags (u8: 1 delete,
 *            2 with an idempotency key); a delete then has its time (f64), version (u32), owner
 *            (u16 length + UTF-8) and id (36 bytes); a put has, with flag 2, the key's expiry
 *            (f64), the key and the fingerprint (each u16 length + bytes), then a whole P or O
 *            payload (its op byte included). A create and its key are this one record.
 *   F (snapshots): a kept change of a feed: a C payload (without key) after the op byte
 *   H (snapshots): an older version of a chat, for its history: a P or O payload after the op byte
 *   K (snapshots): a kept idempotency key: expiry, key and fingerprint as in C, then the P or O
 *            payload of the chat its create answered
 *   W (snapshots): an owner whose feed dropped changes: the last seq dropped (f64), the owner (u16 + UTF-8)
 *   S (snapshots): the feeds' last seq given and their origin (each f64)
 *   I (snapshots, after the puts): a piece of the saved query indexes (`index-codec.ts`), the
 *            pieces in order making one image
 *   E (a snapshot's last record): the number of chats in it (u32 LE)
 * A put carries the whole chat after the change, so replaying a record twice gives the same store.
 * Version 2 added the I records; a version 1 file (no I records) reads as before, and its
 * snapshot's indexes are built from the chats. Version 3 added the O records: a P record is a
 * chat of the owner `default`, so files written before owners existed read as that owner's.
 * Version 4 added C, F, H, K, W and S: older files read as before, with empty feeds, histories
 * of one version and no keys.
 */
export const FORMAT_VERSION = 4
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
const OP_CHANGE = 0x43 // 'C'
const OP_FEED = 0x46 // 'F'
const OP_VERSION = 0x48 // 'H'
const OP_KEY = 0x4b // 'K'
const OP_FLOOR = 0x57 // 'W'
const OP_STATE = 0x53 // 'S'
const FLAG_DELETE = 1
const FLAG_KEY = 2

/** The most bytes of the index image one I record carries. */
export const INDEX_PIECE_BYTES = MAX_PAYLOAD_BYTES - 1

/** `bytes` of an index piece read back is a view into the reader's buffer: copy it before the next read. */
export type Entry =
  | Change
  | { op: 'end', count: number }
  | { op: 'index', bytes: Buffer }
  /** A feed's kept change (snapshots). */
  | { op: 'feed', change: Change }
  /** An older version of a chat (snapshots). */
  | { op: 'version', chat: ChatRecord }
  /** A kept idempotency key (snapshots). */
  | { op: 'key', kept: KeptKey }
  /** An owner's feed floor: the last seq it dropped (snapshots). */
  | { op: 'floor', owner: string, seq: number }
  /** The feeds' last seq and origin (snapshots). */
  | { op: 'state', counter: number, origin: number }

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

const ownerOf = (chat: ChatRecord): string | undefined => chat.owner !== DEFAULT_OWNER ? chat.owner : undefined

/** The bytes of a P or O payload, its op byte included. */
function putLength (c: ChatRecord): number {
  const owner = ownerOf(c)
  return PUT_FIXED + (owner === undefined ? 0 : 2 + Buffer.byteLength(owner)) + Buffer.byteLength(c.title) + Buffer.byteLength(c.description)
}

function writePut (record: Buffer, c: ChatRecord, at: number): number {
  const owner = ownerOf(c)
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
  return writeString(record, c.description, at)
}

const keyLength = (k: KeyRecord): number => 8 + 2 + Buffer.byteLength(k.key, 'latin1') + 2 + Buffer.byteLength(k.fingerprint, 'latin1')

function writeKey (record: Buffer, k: KeyRecord, at: number): number {
  at = record.writeDoubleLE(k.expiresAt, at)
  at = writeString16(record, k.key, at, 'latin1')
  return writeString16(record, k.fingerprint, at, 'latin1')
}

/** The bytes of a C payload after its op byte. */
function changeLength (change: Change, withKey: boolean): number {
  if (change.op === 'delete') return 8 + 1 + 8 + 4 + 2 + Buffer.byteLength(change.owner ?? '') + ID_BYTES
  return 8 + 1 + (withKey && change.key !== undefined ? keyLength(change.key) : 0) + putLength(change.chat)
}

function writeChange (record: Buffer, change: Change, withKey: boolean, at: number): number {
  at = record.writeDoubleLE(change.seq ?? 0, at)
  if (change.op === 'delete') {
    record[at++] = FLAG_DELETE
    at = record.writeDoubleLE(change.at ?? 0, at)
    at = record.writeUInt32LE(change.version ?? 0, at)
    at = writeString16(record, change.owner ?? '', at)
    return at + record.write(change.id, at, ID_BYTES, 'latin1')
  }
  const key = withKey ? change.key : undefined
  record[at++] = key === undefined ? 0 : FLAG_KEY
  if (key !== undefined) at = writeKey(record, key, at)
  return writePut(record, change.chat, at)
}

/** The record of an entry: a change with a `seq` is a C record, one without a P, O or D record (as before the feed existed). */
export function encodeEntry (entry: Entry): Buffer {
  let length: number
  switch (entry.op) {
    case 'put': length = entry.seq === undefined ? putLength(entry.chat) : 1 + changeLength(entry, true); break
    case 'delete': length = entry.seq === undefined ? 1 + ID_BYTES : 1 + changeLength(entry, true); break
    case 'feed': length = 1 + changeLength(entry.change, false); break
    case 'version': length = 1 + putLength(entry.chat); break
    case 'key': length = 1 + keyLength(entry.kept) + putLength(entry.kept.chat); break
    case 'floor': length = 1 + 8 + 2 + Buffer.byteLength(entry.owner); break
    case 'state': length = 1 + 8 + 8; break
    case 'index': length = 1 + entry.bytes.length; break
    case 'end': length = 1 + 4; break
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  let at = RECORD_HEADER_BYTES
  switch (entry.op) {
    case 'put':
      if (entry.seq === undefined) {
        writePut(record, entry.chat, at)
      } else {
        record[at++] = OP_CHANGE
        writeChange(record, entry, true, at)
      }
      break
    case 'delete':
      if (entry.seq === undefined) {
        record[at++] = OP_DELETE
        record.write(entry.id, at, ID_BYTES, 'latin1')
      } else {
        record[at++] = OP_CHANGE
        writeChange(record, entry, true, at)
      }
      break
    case 'feed':
      record[at++] = OP_FEED
      writeChange(record, entry.change, false, at)
      break
    case 'version':
      record[at++] = OP_VERSION
      writePut(record, entry.chat, at)
      break
    case 'key':
      record[at++] = OP_KEY
      writePut(record, entry.kept.chat, writeKey(record, entry.kept, at))
      break
    case 'floor':
      record[at++] = OP_FLOOR
      writeString16(record, entry.owner, record.writeDoubleLE(entry.seq, at))
      break
    case 'state':
      record[at++] = OP_STATE
      record.writeDoubleLE(entry.origin, record.writeDoubleLE(entry.counter, at))
      break
    case 'index':
      record[at++] = OP_INDEX
      entry.bytes.copy(record, at)
      break
    case 'end':
      record[at++] = OP_END
      record.writeUInt32LE(entry.count, at)
      break
  }
  record.writeUInt32LE(length, 0)
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4)
  return record
}

function writeString16 (into: Buffer, s: string, at: number, encoding: BufferEncoding = 'utf8'): number {
  const n = into.write(s, at + 2, encoding)
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
    case OP_CHANGE: return parseChange(b, p + 1, end, true)
    case OP_FEED: {
      const change = parseChange(b, p + 1, end, false)
      return change === undefined ? undefined : { op: 'feed', change }
    }
    case OP_VERSION: {
      const put = parseAnyPut(b, p + 1, end)
      return put === undefined ? undefined : { op: 'version', chat: put.chat }
    }
    case OP_KEY: {
      const key = parseKey(b, p + 1, end)
      if (key === undefined) return undefined
      const put = parseAnyPut(b, key.at, end)
      return put === undefined ? undefined : { op: 'key', kept: { key: key.key, fingerprint: key.fingerprint, expiresAt: key.expiresAt, chat: put.chat } }
    }
    case OP_FLOOR: {
      if (length < 1 + 8 + 2) return undefined
      const owner = readString16(b, p + 9, end)
      return owner === undefined || owner.at !== end ? undefined : { op: 'floor', seq: b.readDoubleLE(p + 1), owner: owner.value }
    }
    case OP_STATE: return length === 17 ? { op: 'state', counter: b.readDoubleLE(p + 1), origin: b.readDoubleLE(p + 9) } : undefined
    default: return undefined
  }
}

function readString16 (b: Buffer, at: number, end: number, encoding: BufferEncoding = 'utf8'): { value: string, at: number } | undefined {
  if (at + 2 > end) return undefined
  const n = b.readUInt16LE(at)
  if (at + 2 + n > end) return undefined
  return { value: b.toString(encoding, at + 2, at + 2 + n), at: at + 2 + n }
}

function parseKey (b: Buffer, p: number, end: number): (KeyRecord & { at: number }) | undefined {
  if (p + 8 > end) return undefined
  const key = readString16(b, p + 8, end, 'latin1')
  if (key === undefined) return undefined
  const fingerprint = readString16(b, key.at, end, 'latin1')
  if (fingerprint === undefined) return undefined
  return { expiresAt: b.readDoubleLE(p), key: key.value, fingerprint: fingerprint.value, at: fingerprint.at }
}

/** A P or O payload at `p` (its op byte). */
function parseAnyPut (b: Buffer, p: number, end: number): { op: 'put', chat: ChatRecord } | undefined {
  const entry = b[p] === OP_PUT ? parsePut(b, p, end, DEFAULT_OWNER) : b[p] === OP_PUT_OWNED ? parseOwnedPut(b, p, end) : undefined
  return entry?.op === 'put' ? { op: 'put', chat: entry.chat } : undefined
}

/** A C payload from after its op byte. */
function parseChange (b: Buffer, p: number, end: number, withKey: boolean): Change | undefined {
  if (p + 9 > end) return undefined
  const seq = b.readDoubleLE(p)
  const flags = b[p + 8]!
  p += 9
  if ((flags & FLAG_DELETE) !== 0) {
    if (flags !== FLAG_DELETE || p + 12 > end) return undefined
    const at = b.readDoubleLE(p)
    const version = b.readUInt32LE(p + 8)
    const owner = readString16(b, p + 12, end)
    if (owner === undefined || owner.at + ID_BYTES !== end) return undefined
    return { op: 'delete', id: b.toString('latin1', owner.at, end), seq, owner: intern(owner.value), version, at }
  }
  let key: KeyRecord | undefined
  if ((flags & FLAG_KEY) !== 0) {
    if (!withKey || flags !== FLAG_KEY) return undefined
    const parsed = parseKey(b, p, end)
    if (parsed === undefined) return undefined
    key = { key: parsed.key, fingerprint: parsed.fingerprint, expiresAt: parsed.expiresAt }
    p = parsed.at
  } else if (flags !== 0) {
    return undefined
  }
  const put = parseAnyPut(b, p, end)
  if (put === undefined) return undefined
  return key === undefined ? { op: 'put', chat: put.chat, seq } : { op: 'put', chat: put.chat, seq, key }
}

/** Owners as decoded: one string each, however many of their records are read (a million chats share a few owners). */
const owners = new Map<string, string>()

function intern (decoded: string): string {
  let owner = owners.get(decoded)
  if (owner === undefined) {
    if (owners.size >= 65_536) owners.clear()
    owners.set(decoded, owner = decoded)
  }
  return owner
}

function parseOwnedPut (b: Buffer, p: number, end: number): Entry | undefined {
  if (end - p < 3) return undefined
  const length = b.readUInt16LE(p + 1)
  if (length === 0 || p + 3 + length > end) return undefined
  const owner = intern(b.toString('utf8', p + 3, p + 3 + length))
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
