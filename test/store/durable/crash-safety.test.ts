import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_OWNER, type Chat } from '../../../src/store/types.js'
import { PREALLOCATE_BYTES } from '../../../src/store/durable/append-log.js'
import { nodeFileOps, type FileOps } from '../../../src/store/durable/file-ops.js'
import { MANIFEST, readManifest, writeManifest } from '../../../src/store/durable/manifest.js'
import { decodeRecord, encodeEntry, encodeHeader, FileKind, HEADER_BYTES } from '../../../src/store/durable/record-codec.js'
import { recover, RecoveryError } from '../../../src/store/durable/recovery.js'
import { repair } from '../../../src/store/durable/repair.js'
import { scanFile } from '../../../src/store/durable/snapshot.js'
import type { MemoryChatStore } from '../../../src/store/memory/memory-store.js'
import type { ChatRecord } from '../../../src/store/records.js'
import { allChats, deferred, openStore, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

/** The gaps of zeros recovery passes over in a log. */
async function gapsOf (path: string): Promise<number> {
  return (await scanFile(nodeFileOps, path, FileKind.log, () => undefined)).gaps.length
}

const lastLog = (dir: string): string => join(dir, readManifest(nodeFileOps, dir)!.logs.at(-1)!)

const record = (n: number): ChatRecord => ({
  owner: 'default',
  id: `0190aaaa-bbbb-7ccc-8ddd-${String(n).padStart(12, '0')}`,
  title: `chat ${n}`,
  description: 'd'.repeat(n % 7),
  priority: 'low',
  isActive: true,
  createdAt: 1_700_000_000_000 + n,
  updatedAt: 1_700_000_000_000 + n,
  version: 1
})

/**
 * The directory an earlier build left after a crash, a restart and a second crash: a log holding
 * good records, the preallocated zeros up to a preallocation boundary, then the good records
 * appended after the restart, then zeros again; `after` bytes follow the second run.
 */
function gapShapedDir (before: number, afterGap: number, after: Buffer = Buffer.alloc(0)): { dir: string, log: string, ids: string[] } {
  const dir = tempDir()
  const puts = (from: number, n: number): Buffer[] => Array.from({ length: n }, (_, i) => encodeEntry({ op: 'put', chat: record(from + i) }))
  const first = Buffer.concat([encodeHeader(FileKind.log), ...puts(0, before)])
  const second = Buffer.concat([...puts(before, afterGap), after])
  const boundary = HEADER_BYTES + PREALLOCATE_BYTES
  const bytes = Buffer.alloc(boundary + second.length + PREALLOCATE_BYTES)
  first.copy(bytes, 0)
  second.copy(bytes, boundary)
  const log = join(dir, 'log-000001.aof')
  writeFileSync(log, bytes)
  writeManifest(nodeFileOps, dir, { version: 1, snapshot: null, logs: ['log-000001.aof'], next: 2 })
  return { dir, log, ids: Array.from({ length: before + afterGap }, (_, i) => record(i).id) }
}

describe('crash after crash', () => {
  it('appends right after the last good record after a crash, so a second crash loses nothing and the third start works', async () => {
    const dir = tempDir()
    const acknowledged: Chat[] = []
    // Each store is abandoned without closing, as a kill -9 leaves it: its log ends in preallocated zeros.
    for (let round = 0; round < 3; round++) {
      const store = await openStore(dir)
      expect(await allChats(store)).toEqual(acknowledged)
      for (let i = 0; i < 5; i++) acknowledged.push(await store.create(DEFAULT_OWNER, { title: `round ${round} chat ${i}` }))
      const first = acknowledged.at(-5)!
      acknowledged[acknowledged.length - 5] = await store.update(DEFAULT_OWNER, first.id, { description: `patched in round ${round}` })
      expect(statSync(lastLog(dir)).size).toBeGreaterThan(store.backend.files.logBytes)
    }
    const store = await openStore(dir)
    expect(await allChats(store)).toEqual(acknowledged)
    expect(await gapsOf(lastLog(dir))).toBe(0)
    await store.close()
  })

  it('cuts a torn record and the zeros after it before appending, after a crash mid-write', async () => {
    const dir = tempDir()
    const first = await openStore(dir)
    const kept = [await first.create(DEFAULT_OWNER, { title: 'kept' })]
    const end = first.backend.files.logBytes
    const log = lastLog(dir)
    const torn = encodeEntry({ op: 'put', chat: record(1) })
    const bytes = readFileSync(log)
    torn.subarray(0, torn.length - 10).copy(bytes, end)
    writeFileSync(log, bytes)
    const second = await openStore(dir)
    expect(statSync(log).size).toBe(end)
    kept.push(await second.create(DEFAULT_OWNER, { title: 'after the torn record' }))
    const third = await openStore(dir)
    expect(await allChats(third)).toEqual(kept)
    expect(await gapsOf(log)).toBe(0)
    await third.close()
  })

  it('names a new log in the manifest only once the current one holds every record appended before it', async () => {
    const dir = tempDir()
    const checked: number[] = []
    /** When the manifest that names two logs goes in place: the records the older one holds on disk. */
    const ops: FileOps = {
      ...nodeFileOps,
      rename (from, to) {
        nodeFileOps.rename(from, to)
        if (!to.endsWith(MANIFEST)) return
        const manifest = readManifest(nodeFileOps, dir)!
        if (manifest.logs.length < 2) return
        const bytes = readFileSync(join(dir, manifest.logs[0]!))
        let records = 0
        for (let at = HEADER_BYTES; ;) {
          const decoded = decodeRecord(bytes, at)
          if (decoded.kind !== 'entry') break
          records++
          at += decoded.size
        }
        checked.push(records)
      }
    }
    const store = await openStore(dir, { ops })
    // The lock held, so that creates and the compaction queue for it in that order: the creates go
    // to the old log, and a crash may tear its last record until the switch.
    const held = deferred()
    const memory = (store.backend as unknown as { memory: MemoryChatStore }).memory
    const holding = memory.exclusive(async () => { await held.promise })
    const creates = Array.from({ length: 50 }, (_, i) => store.create(DEFAULT_OWNER, { title: `queued ${i}` }))
    const compaction = store.backend.compact()
    held.resolve()
    await holding
    await Promise.all(creates)
    await compaction
    expect(checked).toEqual([50])
    await store.close()
  })
})

describe('a log with a gap of zeros, as an earlier build left it', () => {
  it('recovers every good record on both sides of the gap, with a warning, and the next compaction rewrites it away', async () => {
    const { dir, log, ids } = gapShapedDir(40, 25)
    const found = await recover(nodeFileOps, dir)
    expect(found.cuts).toEqual([])
    expect(found.gaps).toBe(1)
    expect([...found.chats().values()].map((c) => c.id)).toEqual(ids)

    const warnings: string[] = []
    const store = await openStore(dir, { logger: { info: () => undefined, error: () => undefined, warn: (_o, m) => { warnings.push(m) } } })
    expect((await allChats(store)).map((c) => c.id)).toEqual(ids)
    expect(warnings.some((w) => w.includes(log) && w.includes('zeros') && w.includes('both sides are kept'))).toBe(true)
    // The store compacts at once after a start that met a gap.
    for (let i = 0; i < 100 && store.backend.files.compactions === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(store.backend.files.compactions).toBe(1)
    await store.create(DEFAULT_OWNER, { title: 'after the rewrite' })
    await store.close()
    const again = await recover(nodeFileOps, dir)
    expect(again.gaps).toBe(0)
    expect(again.chats().size).toBe(ids.length + 1)
  })

  it('is not damage to repair: repair keeps every record on both sides', async () => {
    const { dir, ids } = gapShapedDir(10, 10)
    const result = await repair(dir)
    expect(result.cuts).toEqual([])
    expect(result.chats).toBe(ids.length)
    expect(readdirSync(dir).some((name) => name.startsWith('damaged-'))).toBe(false)
  })

  it('still stops the start at real damage after the gap, and repair keeps what came before the damage', async () => {
    const bad = encodeEntry({ op: 'put', chat: record(999) })
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff
    const good = encodeEntry({ op: 'put', chat: record(1000) })
    const { dir, log, ids } = gapShapedDir(10, 5, Buffer.concat([bad, good]))
    const err = await recover(nodeFileOps, dir).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(RecoveryError)
    const secondRun = ids.slice(10).reduce((n, _, i) => n + encodeEntry({ op: 'put', chat: record(10 + i) }).length, 0)
    const offset = HEADER_BYTES + PREALLOCATE_BYTES + secondRun
    expect((err as RecoveryError).file).toBe(log)
    expect((err as RecoveryError).offset).toBe(offset)
    expect((err as Error).message).toContain('CRC-32 mismatch')
    const result = await repair(dir)
    expect(result.chats).toBe(ids.length)
    expect(result.cuts).toEqual([{ file: log, offset, reason: 'CRC-32 mismatch' }])
  })

  it('cuts a torn record right after a gap as a torn tail, gap and all', async () => {
    const torn = encodeEntry({ op: 'put', chat: record(500) }).subarray(0, 30)
    const dir = tempDir()
    const log = join(dir, 'log-000001.aof')
    const bytes = Buffer.alloc(HEADER_BYTES + PREALLOCATE_BYTES + PREALLOCATE_BYTES)
    const first = Buffer.concat([encodeHeader(FileKind.log), encodeEntry({ op: 'put', chat: record(1) })])
    first.copy(bytes, 0)
    torn.copy(bytes, HEADER_BYTES + PREALLOCATE_BYTES)
    writeFileSync(log, bytes)
    writeManifest(nodeFileOps, dir, { version: 1, snapshot: null, logs: ['log-000001.aof'], next: 2 })
    const found = await recover(nodeFileOps, dir)
    expect(found.chats().size).toBe(1)
    expect(found.logEnd).toBe(first.length)
    expect(found.cuts).toHaveLength(1)
    expect(found.cuts[0]!.offset).toBe(first.length)
  })

  it('passes over zeros in logs only: zeros inside a snapshot are damage', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    for (let i = 0; i < 3; i++) await store.create(DEFAULT_OWNER, { title: `c${i}` })
    await store.backend.compact()
    await store.close()
    const snapshot = join(dir, readManifest(nodeFileOps, dir)!.snapshot!)
    const bytes = readFileSync(snapshot)
    const withZeros = Buffer.concat([bytes.subarray(0, HEADER_BYTES), Buffer.alloc(64), bytes.subarray(HEADER_BYTES)])
    writeFileSync(snapshot, withZeros)
    const err = await recover(nodeFileOps, dir).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(RecoveryError)
    expect((err as RecoveryError).file).toBe(snapshot)
  })
})
