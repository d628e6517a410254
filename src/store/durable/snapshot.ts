import { join } from 'node:path'
import { changeOf, type ChatRecord } from '../records.js'
import type { StoreExtras } from '../memory/memory-store.js'
import { FileKind, HEADER_BYTES, INDEX_PIECE_BYTES, MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES, checkHeader, decodeRecord, encodeEntry, encodeHeader, type Entry } from './record-codec.js'
import type { FileOps } from './file-ops.js'
import { PREALLOCATE_BYTES } from './append-log.js'

const BATCH_BYTES = 1024 * 1024
const READ_BYTES = 8 * 1024 * 1024
const ZERO_SCAN_BYTES = 1024 * 1024

/** Makes an empty log (its header synced to disk, and its name in the directory), open for appending; on a failure, none. */
export function createLog (ops: FileOps, dir: string, name: string): { fd: number, end: number } {
  const path = join(dir, name)
  const fd = ops.open(path, 'w')
  try {
    ops.write(fd, encodeHeader(FileKind.log), 0)
    ops.fdatasync(fd)
    ops.syncDir(dir)
  } catch (err) {
    ops.close(fd)
    // A full disk refuses the header: the store tries again every second, and must not leave a file each time.
    try { ops.unlink(path) } catch { /* the next start removes it */ }
    throw err
  }
  return { fd, end: HEADER_BYTES }
}

/** The records of a snapshot: the chats, what the store keeps besides them, the pieces of the index image, the end record. */
function * snapshotRecords (chats: readonly ChatRecord[], index: readonly Buffer[], extras: StoreExtras | undefined): Generator<Buffer> {
  for (const chat of chats) yield encodeEntry({ op: 'put', chat })
  if (extras !== undefined) {
    for (const chat of extras.versions) yield encodeEntry({ op: 'version', chat })
    for (const record of extras.feeds.records) yield encodeEntry({ op: 'feed', change: changeOf(record) })
    for (const kept of extras.keys) yield encodeEntry({ op: 'key', kept })
    for (const [owner, seq] of extras.feeds.floors) yield encodeEntry({ op: 'floor', owner, seq })
    yield encodeEntry({ op: 'state', counter: extras.feeds.counter, origin: extras.feeds.origin })
  }
  for (const part of index) {
    for (let at = 0; at < part.length; at += INDEX_PIECE_BYTES) yield encodeEntry({ op: 'index', bytes: part.subarray(at, at + INDEX_PIECE_BYTES) })
  }
  yield encodeEntry({ op: 'end', count: chats.length })
}

/**
 * Writes `chats` as a snapshot called `name`, with `index` (the pieces of an index image, or
 * none) and `extras` (feeds, older versions, keys): into a temp file in batches, yielding to the event loop between them so requests keep
 * being served, then fsync, rename and fsync of the directory. `aborted` is asked between batches
 * (shutdown). Answers the snapshot's size in bytes.
 */
export async function writeSnapshot (ops: FileOps, dir: string, name: string, chats: readonly ChatRecord[], aborted: () => boolean = () => false, index: readonly Buffer[] = [], extras?: StoreExtras): Promise<number> {
  const path = join(dir, name)
  const temp = `${path}.tmp`
  const fd = ops.open(temp, 'w')
  let at = 0
  try {
    const put = (b: Buffer): void => { ops.write(fd, b, at); at += b.length }
    put(encodeHeader(FileKind.snapshot))
    let batch: Buffer[] = []
    let batchBytes = 0
    const records = snapshotRecords(chats, index, extras)
    for (let next = records.next(); next.done !== true;) {
      const record = next.value
      next = records.next()
      batch.push(record)
      batchBytes += record.length
      if (batchBytes >= BATCH_BYTES || next.done === true) {
        put(Buffer.concat(batch, batchBytes))
        batch = []
        batchBytes = 0
        await new Promise((resolve) => setImmediate(resolve))
        if (aborted()) throw new Error('snapshot aborted: the store is closing')
      }
    }
    ops.fdatasync(fd)
  } catch (err) {
    ops.close(fd)
    try { ops.unlink(temp) } catch { /* the leftover is removed at the next start */ }
    throw err
  }
  ops.close(fd)
  ops.rename(temp, path)
  ops.syncDir(dir)
  return at
}

export interface Damage {
  offset: number
  reason: string
  /** The damage is the file's last record, cut short or half written: what a crash mid-write leaves. */
  tail: boolean
}

/** A run of zeros between two good records of a log (see `scanFile`). */
export interface Gap { offset: number, length: number }

export interface Scan {
  /** Where the last good record ends. */
  end: number
  size: number
  damage?: Damage
  /** Runs of zeros passed over between good records (logs only). */
  gaps: Gap[]
}

/**
 * Reads a log or a snapshot record by record, calling `onEntry` for each good one, in chunks
 * read asynchronously so that the event loop (and /health/ready) keeps answering. Stops at the
 * first damage and says where it is and whether it is a torn last record. `readBytes`: the
 * size of a read (tests make it small, to cut records between reads).
 *
 * In a log, zeros where a record would start are preallocated space: up to the end of the file
 * they are where the records stop; followed by a good record they are a gap, passed over. Earlier
 * builds appended after the preallocated zeros of a log recovered from a crash, which left such
 * gaps, and every record after one was acknowledged. A gap starts at a record boundary;
 * zeros inside a record (a page lost in a power cut) are damage like any other.
 */
export async function scanFile (ops: FileOps, path: string, kind: FileKind, onEntry: (entry: Entry) => void, readBytes = READ_BYTES): Promise<Scan> {
  const fd = ops.open(path, 'r')
  try {
    const size = ops.size(fd)
    const header = Buffer.alloc(HEADER_BYTES)
    const got = await ops.read(fd, header, 0)
    const bad = checkHeader(header.subarray(0, got), kind)
    const gaps: Gap[] = []
    if (bad !== undefined) return { end: 0, size, gaps, damage: { offset: 0, reason: bad, tail: false } }
    // What a read leaves of a record it cuts (less than the largest record) moves to the front, and the next read goes after it.
    const buffer = Buffer.allocUnsafe(readBytes + RECORD_HEADER_BYTES + MAX_PAYLOAD_BYTES)
    let kept = 0
    let base = HEADER_BYTES // the file offset of buffer[0]
    let position = HEADER_BYTES
    reading: for (;;) {
      const n = await ops.read(fd, buffer.subarray(kept, kept + readBytes), position)
      position += n
      if (n === 0) {
        const leftover = buffer.subarray(0, kept)
        if (leftover.every((b) => b === 0)) return { end: base, size, gaps }
        // A length that reaches past the end is a torn write only if no whole record follows it.
        const tail = !hasRecordAfter(leftover, 1)
        return { end: base, size, gaps, damage: { offset: base, reason: tail ? `the last record is cut short (${leftover.length} bytes of it)` : 'a record length that reaches past the end of the file, with whole records after it', tail } }
      }
      const bytes = buffer.subarray(0, kept + n)
      let at = 0
      for (;;) {
        if (kind === FileKind.log && bytes.length - at >= 4 && bytes.readUInt32LE(at) === 0) {
          const offset = base + at
          const after = await afterZeros(ops, fd, offset, size)
          if (after.kind === 'end') return { end: offset, size, gaps }
          if (after.kind === 'damage') return { end: offset, size, gaps, damage: after.damage }
          gaps.push({ offset, length: after.record - offset })
          // Read on from the record after the gap.
          kept = 0
          base = position = after.record
          continue reading
        }
        const decoded = decodeRecord(bytes, at)
        if (decoded.kind === 'short') break
        if (decoded.kind === 'damaged') {
          const offset = base + at
          // A snapshot is not preallocated, but one cut short by a crash may end in zeros.
          if (await zerosFrom(ops, fd, offset, size)) return { end: offset, size, gaps }
          return { end: offset, size, gaps, damage: { offset, reason: decoded.reason, tail: await isTornTail(ops, fd, bytes, at, offset, size) } }
        }
        onEntry(decoded.entry)
        at += decoded.size
      }
      kept = bytes.copy(buffer, 0, at)
      base += at
    }
  } finally {
    ops.close(fd)
  }
}

/**
 * A damaged record is a torn write, not damage in the middle, when nothing follows it: its
 * claimed length reaches the end of the file, or only zeros (preallocated space) come after it.
 */
async function isTornTail (ops: FileOps, fd: number, bytes: Buffer, at: number, offset: number, size: number): Promise<boolean> {
  if (bytes.length - at < 4) return false
  const length = bytes.readUInt32LE(at)
  if (length === 0 || length > MAX_PAYLOAD_BYTES) return false
  const claimedEnd = offset + RECORD_HEADER_BYTES + length
  if (claimedEnd >= size) return !hasRecordAfter(bytes, at + 1)
  return await zerosFrom(ops, fd, claimedEnd, size)
}

/** Whether a whole record with a good CRC starts anywhere in `bytes` from `from` on. */
function hasRecordAfter (bytes: Buffer, from: number): boolean {
  for (let at = from; at + RECORD_HEADER_BYTES < bytes.length; at++) {
    if (decodeRecord(bytes, at).kind === 'entry') return true
  }
  return false
}

/** Whether the file holds only zeros from `offset` to its end (looked at only when that is at most a preallocation away). */
async function zerosFrom (ops: FileOps, fd: number, offset: number, size: number): Promise<boolean> {
  if (size - offset > 2 * PREALLOCATE_BYTES) return false
  const rest = Buffer.alloc(size - offset)
  const n = await ops.read(fd, rest, offset)
  return n === rest.length && rest.every((b) => b === 0)
}

type AfterZeros =
  | { kind: 'end' }
  | { kind: 'record', record: number }
  | { kind: 'damage', damage: Damage }

/**
 * What follows the zeros at `offset` of a log: only zeros to the end of the file, a good record
 * (where it starts: a record's length is a u32 LE of at most MAX_PAYLOAD_BYTES, so its first
 * non-zero byte is one of its first three), or something else, which is damage.
 */
async function afterZeros (ops: FileOps, fd: number, offset: number, size: number): Promise<AfterZeros> {
  const chunk = Buffer.allocUnsafe(ZERO_SCAN_BYTES)
  let nonZero = -1
  for (let at = offset; at < size && nonZero < 0;) {
    const n = await ops.read(fd, chunk, at)
    if (n === 0) break
    const i = chunk.subarray(0, n).findIndex((b) => b !== 0)
    if (i >= 0) nonZero = at + i
    at += n
  }
  if (nonZero < 0) return { kind: 'end' }
  const from = Math.max(offset, nonZero - 2)
  const bytes = Buffer.alloc(Math.min(size - from, 2 + RECORD_HEADER_BYTES + MAX_PAYLOAD_BYTES))
  const n = await ops.read(fd, bytes, from)
  const read = bytes.subarray(0, n)
  for (let at = 0; from + at <= nonZero; at++) {
    if (decodeRecord(read, at).kind === 'entry') return { kind: 'record', record: from + at }
  }
  // The first record after a gap, torn by a crash, is a torn tail: cutting it cuts the gap too.
  for (let at = 0; from + at <= nonZero; at++) {
    if (await isTornTail(ops, fd, read, at, from + at, size)) {
      return { kind: 'damage', damage: { offset, reason: `zeros, then a record cut short at byte offset ${from + at}`, tail: true } }
    }
  }
  return { kind: 'damage', damage: { offset: nonZero, reason: `zeros from byte offset ${offset}, then bytes that are not a record`, tail: false } }
}
