import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_OWNER, SORT_FIELDS, type ListQuery } from '../../../src/store/types.js'
import { nodeFileOps } from '../../../src/store/durable/file-ops.js'
import { encodeIndexImage } from '../../../src/store/durable/index-codec.js'
import { readManifest } from '../../../src/store/durable/manifest.js'
import { encodeHeader, FileKind, HEADER_BYTES } from '../../../src/store/durable/record-codec.js'
import { recover } from '../../../src/store/durable/recovery.js'
import { scanFile, writeSnapshot } from '../../../src/store/durable/snapshot.js'
import { MemoryChatStore } from '../../../src/store/memory/memory-store.js'
import type { ChatRecord } from '../../../src/store/records.js'
import type { IndexCapture } from '../../../src/store/memory/index-image.js'
import { allChats, openStore, removeTempDirs, tempDir, type DurableStore } from './helpers.js'

afterEach(removeTempDirs)

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'café', 'Ωmega', 'alphabet']

/** A store with writes of every kind (holes from deletes, titles and priorities changed); compacted when `compact`. */
async function busyStore (dir: string, n: number): Promise<DurableStore> {
  const store = await openStore(dir, { indexChunk: 4 })
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const chat = await store.create(DEFAULT_OWNER, { title: `${WORDS[i % 7]!} ${i % 5}`, description: `${WORDS[(i * 3) % 7]!} ${WORDS[(i * 5) % 7]!}`, priority: (['low', 'medium', 'high'] as const)[i % 3]!, isActive: i % 4 !== 0 })
    ids.push(chat.id)
  }
  for (let i = 0; i < n; i += 4) await store.update(DEFAULT_OWNER, ids[i]!, { title: `renamed ${WORDS[(i + 1) % 7]!}`, priority: 'high' })
  for (let i = 1; i < n; i += 5) await store.delete(DEFAULT_OWNER, ids[i]!)
  return store
}

const QUERIES: ListQuery[] = [
  ...SORT_FIELDS.flatMap((field) => [false, true].map((descending) => ({ sort: [{ field, descending }], limit: 1000 }))),
  { q: 'alph', limit: 1000 },
  { q: 'cafe omega', limit: 1000 },
  { q: 'renamed', sort: [{ field: 'title', descending: true }], limit: 1000 },
  { priority: ['high'], isActive: true, limit: 1000 },
  { priority: ['low', 'medium'], sort: [{ field: 'priority', descending: true }, { field: 'updatedAt', descending: false }], limit: 7, offset: 5 }
]

async function answers (store: DurableStore): Promise<unknown[]> {
  const out: unknown[] = []
  for (const query of QUERIES) {
    const page = await store.list(DEFAULT_OWNER, query)
    out.push({ items: page.items, total: page.total })
  }
  return out
}

/** Opens `dir`, answering the store and how it got its indexes ('loaded' or 'built'), with any warnings. */
async function reopen (dir: string): Promise<{ store: DurableStore, indexes: unknown, warnings: string[] }> {
  let indexes: unknown
  const warnings: string[] = []
  const logger = {
    info: (o: object, m: string) => { if (m === 'store recovered') indexes = (o as { indexes: unknown }).indexes },
    warn: (_o: object, m: string) => { warnings.push(m) },
    error: () => undefined
  }
  const store = await openStore(dir, { logger, indexChunk: 4 })
  return { store, indexes, warnings }
}

/** The index image a compaction of a store holding `chats` (in id order) would save. */
async function imageOf (chats: ChatRecord[]): Promise<IndexCapture> {
  const store = new MemoryChatStore({ maxItems: 100, maxBytes: 0, lockTimeoutMs: 1000 })
  store.restore(chats)
  return await store.withAll((_all, image) => image()!)
}

function snapshotOf (dir: string): string {
  return join(dir, readManifest(nodeFileOps, dir)!.snapshot!)
}

describe('saved indexes', () => {
  it('a compaction saves the indexes; recovery loads them, applies the log after them, and answers as the store did', async () => {
    const dir = tempDir()
    const store = await busyStore(dir, 60)
    await store.backend.compact()
    // The log after the snapshot: a create, a rename, a delete (a short tail).
    const created = await store.create(DEFAULT_OWNER, { title: 'late beta', priority: 'low' })
    const chats = await allChats(store)
    await store.update(DEFAULT_OWNER, chats[3]!.id, { title: 'gamma again', description: 'omega' })
    await store.delete(DEFAULT_OWNER, chats[5]!.id)
    await store.update(DEFAULT_OWNER, created.id, { isActive: false })
    const expected = await answers(store)
    const everything = await allChats(store)
    await store.close()

    const { store: reopened, indexes, warnings } = await reopen(dir)
    expect(indexes).toBe('loaded')
    expect(warnings).toEqual([])
    await reopened.backend.checkInvariants()
    expect(await allChats(reopened)).toEqual(everything)
    expect(await answers(reopened)).toEqual(expected)
    // Writes go on from the loaded indexes, reusing the holes.
    await reopened.create(DEFAULT_OWNER, { title: 'after the restart' })
    await reopened.delete(DEFAULT_OWNER, everything[0]!.id)
    await reopened.backend.checkInvariants()
    expect((await reopened.list(DEFAULT_OWNER, { q: 'restart', limit: 10 })).total).toBe(1)
    await reopened.close()
  })

  it('builds the indexes again when the log after the snapshot is long (more than a third of its chats)', async () => {
    const dir = tempDir()
    const store = await busyStore(dir, 40)
    await store.backend.compact()
    for (let i = 0; i < 15; i++) await store.create(DEFAULT_OWNER, { title: `more ${i}` })
    const expected = await answers(store)
    await store.close()
    const { store: reopened, indexes } = await reopen(dir)
    expect(indexes).toBe('built')
    await reopened.backend.checkInvariants()
    expect(await answers(reopened)).toEqual(expected)
    await reopened.close()
  })

  it('reads a version 1 directory (no saved indexes) and builds the indexes', async () => {
    const dir = tempDir()
    const store = await busyStore(dir, 30)
    await store.backend.compact()
    await store.create(DEFAULT_OWNER, { title: 'in the log' })
    const expected = await answers(store)
    await store.close()
    // As version 1 wrote them: the same records without the I ones, headers saying 1.
    const snapshot = snapshotOf(dir)
    const chats: ChatRecord[] = []
    await scanFile(nodeFileOps, snapshot, FileKind.snapshot, (entry) => { if (entry.op === 'put') chats.push(entry.chat) })
    const name = snapshot.slice(dir.length + 1)
    await writeSnapshot(nodeFileOps, dir, name, chats)
    for (const file of [snapshot, join(dir, readManifest(nodeFileOps, dir)!.logs[0]!)]) {
      const bytes = readFileSync(file)
      bytes.writeUInt16LE(1, 8)
      writeFileSync(file, bytes)
    }
    const { store: reopened, indexes } = await reopen(dir)
    expect(indexes).toBe('built')
    await reopened.backend.checkInvariants()
    expect(await answers(reopened)).toEqual(expected)
    // The next compaction writes version 2, with the indexes.
    await reopened.backend.compact()
    await reopened.close()
    expect(readFileSync(snapshotOf(dir)).subarray(0, HEADER_BYTES)).toEqual(encodeHeader(FileKind.snapshot))
    const again = await reopen(dir)
    expect(again.indexes).toBe('loaded')
    expect(await answers(again.store)).toEqual(expected)
    await again.store.close()
  })

  it('builds the indexes, with a warning, when the saved ones do not fit the chats', async () => {
    const dir = tempDir()
    const store = await busyStore(dir, 30)
    await store.backend.compact()
    const expected = await answers(store)
    await store.close()
    const snapshot = snapshotOf(dir)
    const chats: ChatRecord[] = []
    await scanFile(nodeFileOps, snapshot, FileKind.snapshot, (entry) => { if (entry.op === 'put') chats.push(entry.chat) })
    const name = snapshot.slice(dir.length + 1)

    // Saved for other chats (one fewer): the image says so.
    await writeSnapshot(nodeFileOps, dir, name, chats, undefined, (await encodeIndexImage(await imageOf(chats.slice(1)), chats.slice(1))))
    let found = await reopen(dir)
    expect(found.indexes).toBe('built')
    expect(found.warnings.join()).toMatch(/saved indexes are not usable \(the saved index image is for 23 chats, the snapshot holds 24\)/)
    expect(await answers(found.store)).toEqual(expected)
    await found.store.close()

    // The layout adds up but an ordered index names a slot twice: the store finds out as it loads them.
    const image = await imageOf(chats)
    image.byTitle[0] = image.byTitle[1]!
    await writeSnapshot(nodeFileOps, dir, name, chats, undefined, (await encodeIndexImage(image, chats)))
    found = await reopen(dir)
    expect(found.indexes).toBe('built')
    expect(found.warnings).toEqual(['the snapshot\'s saved indexes do not fit its chats; building them instead'])
    await found.store.backend.checkInvariants()
    expect(await answers(found.store)).toEqual(expected)
    await found.store.close()
  })

  it('repair drops the saved indexes of a snapshot it cuts, and recovery stops at damage in them', async () => {
    const dir = tempDir()
    const store = await busyStore(dir, 30)
    await store.backend.compact()
    await store.close()
    const snapshot = snapshotOf(dir)
    const bytes = readFileSync(snapshot)
    // The bytes before the end record (13 bytes) are the last index record's.
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0x5a
    writeFileSync(snapshot, bytes)
    await expect(recover(nodeFileOps, dir)).rejects.toThrow(/CRC-32 mismatch/)
    const repaired = await recover(nodeFileOps, dir, { repair: true })
    expect(repaired.image).toBeUndefined()
    expect(repaired.chats().size).toBe(24)
  })
})
