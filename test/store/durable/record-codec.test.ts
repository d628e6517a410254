import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { checkHeader, decodeRecord, encodeEntry, encodeHeader, FileKind, HEADER_BYTES, MAX_PAYLOAD_BYTES, type Entry } from '../../../src/store/durable/record-codec.js'

const chat = { id: '01a2189f-0888-75e0-a32f-e67fcc63d27b', title: 'Ünïcode "quoted" 🎉', description: 'line\nbreak', priority: 'high' as const, isActive: false, createdAt: 1, updatedAt: 2, version: 3 }

function record (op: number, json: string): Buffer {
  const payload = Buffer.concat([Buffer.from([op]), Buffer.from(json)])
  const head = Buffer.alloc(8)
  head.writeUInt32LE(payload.length, 0)
  head.writeUInt32LE(crc32(payload), 4)
  return Buffer.concat([head, payload])
}

describe('record codec', () => {
  it('round-trips puts, deletes and end records, back to back', () => {
    const entries: Entry[] = [{ op: 'put', chat }, { op: 'delete', id: chat.id }, { op: 'end', count: 7 }]
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
      record(0x50, '{"not":"an array"}'), record(0x50, '[1,2,3]'), record(0x50, JSON.stringify(['id', 't', 'd', 'urgent', true, 1, 2, 3])),
      record(0x44, '42'), record(0x45, '"x"'), record(0x58, '1'), record(0x50, 'not json')
    ]
    for (const bytes of bad) expect(decodeRecord(bytes, 0)).toEqual({ kind: 'damaged', reason: 'a record with a good CRC but an unreadable payload' })
  })

  it('writes and checks a header with magic, format version and kind', () => {
    const header = encodeHeader(FileKind.log)
    expect(header).toHaveLength(HEADER_BYTES)
    expect(checkHeader(header, FileKind.log)).toBeUndefined()
    expect(checkHeader(header, FileKind.snapshot)).toBe('not a snapshot file')
    expect(checkHeader(encodeHeader(FileKind.snapshot), FileKind.log)).toBe('not a log file')
    expect(checkHeader(header.subarray(0, 10), FileKind.log)).toMatch(/shorter than its header/)
  })
})
