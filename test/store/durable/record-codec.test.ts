import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { checkHeader, crc32Of, decodeRecord, encodeEntry, encodeHeader, FileKind, HEADER_BYTES, MAX_PAYLOAD_BYTES, type Entry } from '../../../src/store/durable/record-codec.js'

const chat = { owner: 'default', id: '01a2189f-0888-75e0-a32f-e67fcc63d27b', title: 'Ünïcode "quoted" 🎉', description: 'line\nbreak', priority: 'high' as const, isActive: false, createdAt: 1, updatedAt: 2, version: 3 }

/** A record around `payload`, with a good CRC. */
function record (payload: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32LE(payload.length, 0)
  head.writeUInt32LE(crc32(payload), 4)
  return Buffer.concat([head, payload])
}

/** The payload of a good put, changed by `change`. */
function putPayload (change: (p: Buffer) => Buffer | undefined): Buffer {
  const p = Buffer.from(encodeEntry({ op: 'put', chat }).subarray(8))
  return change(p) ?? p
}

describe('record codec', () => {
  it('round-trips puts, deletes, index pieces and end records, back to back', () => {
    const entries: Entry[] = [{ op: 'put', chat }, { op: 'delete', id: chat.id }, { op: 'index', bytes: Buffer.from([1, 2, 3, 0]) }, { op: 'end', count: 7 }]
    const bytes = Buffer.concat(entries.map(encodeEntry))
    const read: Entry[] = []
    for (let at = 0; at < bytes.length;) {
      const d = decodeRecord(bytes, at)
      if (d.kind !== 'entry') throw new Error(d.kind)
      read.push(d.entry)
      at += d.size
    }
    expect(read).toEqual(entries)
  })

  it('sums CRC-32 in place as zlib does, at any offset and length', () => {
    const bytes = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff))
    for (const [from, to] of [[0, 0], [0, 1], [3, 10], [5, 600], [1, 17], [0, 599], [100, 357]] as const) {
      expect(crc32Of(bytes, from, to)).toBe(crc32(bytes.subarray(from, to)))
    }
  })

  it('tells a record cut short from a damaged one', () => {
    const bytes = encodeEntry({ op: 'put', chat })
    expect(decodeRecord(bytes.subarray(0, 5), 0)).toEqual({ kind: 'short' })
    expect(decodeRecord(bytes.subarray(0, bytes.length - 1), 0)).toEqual({ kind: 'short' })
    const flipped = Buffer.from(bytes)
    flipped[20] = flipped[20]! ^ 1
    expect(decodeRecord(flipped, 0)).toEqual({ kind: 'damaged', reason: 'CRC-32 mismatch' })
    const zero = Buffer.alloc(16)
    expect(decodeRecord(zero, 0)).toMatchObject({ kind: 'damaged', reason: 'impossible record length 0' })
    zero.writeUInt32LE(MAX_PAYLOAD_BYTES + 1, 0)
    expect(decodeRecord(zero, 0)).toMatchObject({ kind: 'damaged' })
  })

  it('refuses payloads with a good CRC but a wrong shape', () => {
    const bad = [
      putPayload((p) => { p[1] = 3 }), // no such priority
      putPayload((p) => { p[2] = 2 }), // isActive neither 0 nor 1
      putPayload((p) => p.subarray(0, 40)), // shorter than a put
      putPayload((p) => { p.writeUInt32LE(5000, 59) }), // title longer than the payload
      putPayload((p) => Buffer.concat([p, Buffer.from('x')])), // bytes after the description
      Buffer.from('Dshort'), Buffer.from('E12'), Buffer.from('X12345'), Buffer.from('I') // an index piece of no bytes
    ]
    for (const payload of bad) expect(decodeRecord(record(payload), 0)).toEqual({ kind: 'damaged', reason: 'a record with a good CRC but an unreadable payload' })
  })

  it('writes and checks a header with magic, format version and kind', () => {
    const header = encodeHeader(FileKind.log)
    expect(header).toHaveLength(HEADER_BYTES)
    expect(checkHeader(header, FileKind.log)).toBeUndefined()
    expect(checkHeader(header, FileKind.snapshot)).toBe('not a snapshot file')
    expect(checkHeader(encodeHeader(FileKind.snapshot), FileKind.log)).toBe('not a log file')
    expect(checkHeader(header.subarray(0, 10), FileKind.log)).toMatch(/shorter than its header/)
    // Version 1 (before snapshots saved their indexes) is read; versions this build does not know are not.
    for (const [version, answer] of [[1, undefined], [2, undefined], [3, undefined], [0, 'format version 0; this build reads versions 1 to 4'], [4, undefined], [5, 'format version 5; this build reads versions 1 to 4']] as const) {
      const other = Buffer.from(header)
      other.writeUInt16LE(version, 8)
      expect(checkHeader(other, FileKind.log)).toBe(answer)
    }
  })
})
