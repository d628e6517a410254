import { crc32 } from 'node:zlib'
import type { Change, ChatRecord } from '../memory/memory-store.js'
import { PRIORITIES } from '../chat-store.js'

/**
 * The on-disk format of the log and of snapshots. A file is a 16-byte header (magic, format
 * version, kind) then records; a record is its payload's length (u32 LE), the payload's CRC-32
 * (u32 LE), then the payload: one byte for the operation, then JSON. A put carries the whole chat
 * after the change, so replaying a record twice gives the same store.
 */
export const FORMAT_VERSION = 1
export const HEADER_BYTES = 16
export const RECORD_HEADER_BYTES = 8
/** Far above any chat the API accepts; a larger length can only be damage. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024

const MAGIC = Buffer.from('CHATDURA', 'latin1')
export const FileKind = { log: 1, snapshot: 2 } as const
export type FileKind = typeof FileKind[keyof typeof FileKind]

const OP_PUT = 0x50 // 'P'
const OP_DELETE = 0x44 // 'D'
const OP_END = 0x45 // 'E': a snapshot's last record, carrying its count

export type Entry = Change | { op: 'end', count: number }

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
  if (version !== FORMAT_VERSION) return `format version ${version}; this build reads version ${FORMAT_VERSION}`
  if (bytes.readUInt16LE(10) !== kind) return `not a ${kind === FileKind.log ? 'log' : 'snapshot'} file`
  return undefined
}

export function encodeEntry (entry: Entry): Buffer {
  let op: number
  let json: string
  if (entry.op === 'put') {
    const c = entry.chat
    op = OP_PUT
    json = JSON.stringify([c.id, c.title, c.description, c.priority, c.isActive, c.createdAt, c.updatedAt, c.version])
  } else if (entry.op === 'delete') {
    op = OP_DELETE
    json = JSON.stringify(entry.id)
  } else {
    op = OP_END
    json = String(entry.count)
  }
  const length = 1 + Buffer.byteLength(json)
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  record[RECORD_HEADER_BYTES] = op
  record.write(json, RECORD_HEADER_BYTES + 1)
  const payload = record.subarray(RECORD_HEADER_BYTES)
  record.writeUInt32LE(length, 0)
  record.writeUInt32LE(crc32(payload), 4)
  return record
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
  const end = at + RECORD_HEADER_BYTES + length
  if (end > bytes.length) return { kind: 'short' }
  const payload = bytes.subarray(at + RECORD_HEADER_BYTES, end)
  if (crc32(payload) !== bytes.readUInt32LE(at + 4)) return { kind: 'damaged', reason: 'CRC-32 mismatch' }
  const entry = parsePayload(payload)
  if (entry === undefined) return { kind: 'damaged', reason: 'a record with a good CRC but an unreadable payload' }
  return { kind: 'entry', entry, size: RECORD_HEADER_BYTES + length }
}

function parsePayload (payload: Buffer): Entry | undefined {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8', 1))
  } catch {
    return undefined
  }
  switch (payload[0]) {
    case OP_PUT: return toChat(value)
    case OP_DELETE: return typeof value === 'string' ? { op: 'delete', id: value } : undefined
    case OP_END: return typeof value === 'number' && Number.isInteger(value) ? { op: 'end', count: value } : undefined
    default: return undefined
  }
}

function toChat (value: unknown): Entry | undefined {
  if (!Array.isArray(value) || value.length !== 8) return undefined
  const [id, title, description, priority, isActive, createdAt, updatedAt, version] = value as unknown[]
  if (typeof id !== 'string' || typeof title !== 'string' || typeof description !== 'string' ||
    !PRIORITIES.includes(priority as never) || typeof isActive !== 'boolean' ||
    typeof createdAt !== 'number' || typeof updatedAt !== 'number' || typeof version !== 'number') return undefined
  const chat: ChatRecord = { id, title, description, priority: priority as ChatRecord['priority'], isActive, createdAt, updatedAt, version }
  return { op: 'put', chat }
}
