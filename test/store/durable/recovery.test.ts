import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_OWNER, type Chat } from '../../../src/store/types.js'
import { nodeFileOps } from '../../../src/store/durable/file-ops.js'
import { readManifest, ManifestError } from '../../../src/store/durable/manifest.js'
import { encodeEntry, FileKind, HEADER_BYTES, type Entry } from '../../../src/store/durable/record-codec.js'
import fc from 'fast-check'
import { ChatsById, recover, RecoveryError } from '../../../src/store/durable/recovery.js'
import type { ChatRecord } from '../../../src/store/records.js'
import { scanFile } from '../../../src/store/durable/snapshot.js'
import { main, repair } from '../../../src/store/durable/repair.js'
import { allChats, openStore, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

/** A directory holding `n` chats made one by one, each a record of the log; answers them and the log's path. */
async function storeWith (n: number, compact = false): Promise<{ dir: string, chats: Chat[], log: string }> {
  const dir = tempDir()
  const store = await openStore(dir)
  const chats: Chat[] = []
  for (let i = 0; i < n; i++) chats.push(await store.create(DEFAULT_OWNER, { title: `chat ${i}` }))
  if (compact) await store.backend.compact()
  await store.close()
  const manifest = readManifest(nodeFileOps, dir)!
  return { dir, chats, log: join(dir, manifest.logs.at(-1)!) }
}

// Each write is a C record: a put with its place in the owner's feed.
const recordSize = (chat: Chat): number => encodeEntry({
  op: 'put',
  seq: 1,
  chat: { ...chat, owner: 'default', createdAt: Date.parse(chat.createdAt), updatedAt: Date.parse(chat.updatedAt) }
}).length

function flipByte (path: string, offset: number): void {
  const bytes = readFileSync(path)
  bytes[offset] = bytes[offset]! ^ 0x5a
  writeFileSync(path, bytes)
}

async function recoveryError (dir: string): Promise<RecoveryError> {
  const err = await recover(nodeFileOps, dir).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(RecoveryError)
  return err as RecoveryError
}

describe('recovery', () => {
  it('applies puts and deletes to the chats by id as a Map would: same chats, same order', () => {
    const chat = (n: number, version: number): ChatRecord =>
      ({ owner: 'default', id: `id-${n}`, title: 't', description: '', priority: 'low', isActive: true, createdAt: 0, updatedAt: 0, version })
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30 }))
    fc.assert(fc.property(fc.array(op, { minLength: 50, maxLength: 200 }), (ops) => {
      const chats = new ChatsById()
      const model = new Map<string, ChatRecord>()
      ops.forEach(([put, n], i) => {
        if (put) {
          chats.put(chat(n, i))
          model.set(`id-${n}`, chat(n, i))
        } else {
          chats.delete(`id-${n}`)
          model.delete(`id-${n}`)
        }
      })
      expect(chats.size).toBe(model.size)
      expect([...chats.values()]).toEqual([...model.values()])
    }))
  })

  it('cuts off a torn last record with a warning, keeps everything before it, and appends after the cut', async () => {
    const { dir, chats, log } = await storeWith(5)
    const goodSize = statSync(log).size
    const torn = encodeEntry({ op: 'delete', id: chats[0]!.id })
    appendFileSync(log, torn.subarray(0, torn.length - 3))
    const warnings: string[] = []
    const store = await openStore(dir, { logger: { info: () => undefined, error: () => undefined, warn: (_o, m) => { warnings.push(m) } } })
    expect(await allChats(store)).toEqual(chats)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(log)
    expect(warnings[0]).toContain(`byte offset ${goodSize}`)
    expect(statSync(log).size).toBe(goodSize)
    const after = await store.create(DEFAULT_OWNER, { title: 'after the cut' })
    await store.close()
    const reopened = await openStore(dir)
    expect(await allChats(reopened)).toEqual([...chats, after])
    await reopened.close()
  })

  it('cuts off a last record whose bytes are there but wrong (half written before a power cut)', async () => {
    const { dir, chats, log } = await storeWith(4)
    const size = statSync(log).size
    flipByte(log, size - 2)
    const found = await recover(nodeFileOps, dir)
    expect([...found.chats().values()]).toHaveLength(3)
    expect(found.cuts).toEqual([{ file: log, offset: size - recordSize(chats[3]!), reason: 'CRC-32 mismatch' }])
  })

  it('reads the zeros preallocated after the last record as the end, and cuts a torn record among them', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const chats = [await store.create(DEFAULT_OWNER, { title: 'one' }), await store.create(DEFAULT_OWNER, { title: 'two' })]
    const end = store.backend.files.logBytes
    const log = join(dir, 'log-000001.aof')
    expect(statSync(log).size).toBeGreaterThan(end)
    // The process dies here (no close): the zeros stay, and a crash mid-write leaves part of a record in them.
    const clean = await recover(nodeFileOps, dir)
    expect(clean.cuts).toEqual([])
    expect([...clean.chats().values()]).toHaveLength(2)
    const torn = encodeEntry({ op: 'delete', id: chats[0]!.id })
    const bytes = readFileSync(log)
    torn.subarray(0, torn.length - 4).copy(bytes, end)
    writeFileSync(log, bytes)
    const found = await recover(nodeFileOps, dir)
    expect(found.cuts).toEqual([{ file: log, offset: end, reason: 'CRC-32 mismatch' }])
    expect(found.chats().size).toBe(2)
    expect(found.logEnd).toBe(end)
    // Recovery only reads; the store cuts the log where its good records end as it opens it for appending.
    expect(statSync(log).size).toBe(bytes.length)
    const reopened = await openStore(dir)
    expect(statSync(log).size).toBe(end)
    expect(await allChats(reopened)).toEqual(chats)
    await reopened.close()
  })

  it('cuts off a tail of zeros', async () => {
    const { dir, chats, log } = await storeWith(3)
    appendFileSync(log, Buffer.alloc(4096))
    const found = await recover(nodeFileOps, dir)
    expect(found.chats().size).toBe(chats.length)
  })

  it('reads the same records, and finds the same damage, whatever the size of its reads', async () => {
    const { log, chats } = await storeWith(12)
    const scan = async (readBytes?: number): Promise<{ entries: Entry[], end: number, damage: unknown }> => {
      const entries: Entry[] = []
      const { end, damage } = await scanFile(nodeFileOps, log, FileKind.log, (e) => entries.push(e), readBytes)
      return { entries, end, damage }
    }
    const whole = await scan()
    expect(whole.entries).toHaveLength(12)
    for (const readBytes of [1, 7, 64, recordSize(chats[0]!)]) expect(await scan(readBytes)).toEqual(whole)
    const cut = HEADER_BYTES + 5 * recordSize(chats[0]!) + 9
    writeFileSync(log, readFileSync(log).subarray(0, cut))
    const torn = await scan()
    expect(torn.entries).toHaveLength(5)
    expect(torn.damage).toMatchObject({ offset: cut - 9, tail: true })
    for (const readBytes of [1, 7, 64]) expect(await scan(readBytes)).toEqual(torn)
  })

  it('refuses to start on a flipped byte in the middle of a log, naming the file, the offset and the repair command', async () => {
    const { dir, chats, log } = await storeWith(6)
    const second = HEADER_BYTES + recordSize(chats[0]!)
    flipByte(log, second + 20)
    const err = await recoveryError(dir)
    expect(err.file).toBe(log)
    expect(err.offset).toBe(second)
    expect(err.message).toContain(`${log} at byte offset ${second}: CRC-32 mismatch`)
    expect(err.message).toContain(`npm run repair -- ${dir}`)

    const store = await openStore(dir).then(() => undefined, (e: unknown) => e)
    expect(store).toBeInstanceOf(RecoveryError)
  })

  it('refuses a length damaged to reach past the end when whole records follow it: not a torn tail', async () => {
    const { dir, chats, log } = await storeWith(5)
    const second = HEADER_BYTES + recordSize(chats[0]!)
    const bytes = readFileSync(log)
    bytes.writeUInt32LE(bytes.length, second)
    writeFileSync(log, bytes)
    const err = await recoveryError(dir)
    expect(err.offset).toBe(second)
    expect(err.message).toMatch(/reaches past the end of the file, with whole records after it/)
    bytes.writeUInt32LE(bytes.length - second - 8, second)
    writeFileSync(log, bytes)
    expect((await recoveryError(dir)).message).toMatch(/CRC-32 mismatch/)
  })

  it('refuses an impossible record length in the middle', async () => {
    const { dir, chats, log } = await storeWith(3)
    const bytes = readFileSync(log)
    bytes.writeUInt32LE(0xffffff, HEADER_BYTES + recordSize(chats[0]!))
    writeFileSync(log, bytes)
    expect((await recoveryError(dir)).message).toMatch(/impossible record length/)
  })

  it('refuses a snapshot named by the manifest that is missing, and repair will not invent it', async () => {
    const { dir } = await storeWith(5, true)
    const manifest = readManifest(nodeFileOps, dir)!
    const snapshot = join(dir, manifest.snapshot!)
    unlinkSync(snapshot)
    const err = await recoveryError(dir)
    expect(err.file).toBe(snapshot)
    expect(err.message).toMatch(/named by the MANIFEST but missing.*restore it from a backup/)
    const lines: string[] = []
    expect(await main([dir], (l) => lines.push(l))).toBe(1)
    expect(lines.join('\n')).toMatch(/cannot repair/)
  })

  it('refuses a missing log', async () => {
    const { dir, log } = await storeWith(1)
    unlinkSync(log)
    expect((await recoveryError(dir)).file).toBe(log)
  })

  it('refuses a damaged snapshot, and one cut short', async () => {
    const { dir } = await storeWith(5, true)
    const snapshot = join(dir, readManifest(nodeFileOps, dir)!.snapshot!)
    const bytes = readFileSync(snapshot)
    writeFileSync(snapshot, bytes.subarray(0, bytes.length - 5))
    expect((await recoveryError(dir)).file).toBe(snapshot)
    flipByte(snapshot, HEADER_BYTES + 12)
    expect((await recoveryError(dir)).offset).toBe(HEADER_BYTES)
  })

  it('refuses a file of another format version, or not ours', async () => {
    const { dir, log } = await storeWith(2)
    const bytes = readFileSync(log)
    bytes.writeUInt16LE(9, 8)
    writeFileSync(log, bytes)
    expect((await recoveryError(dir)).message).toMatch(/format version 9; this build reads versions 1 to 4/)
    writeFileSync(log, 'hello, this is not a chat store')
    expect((await recoveryError(dir)).message).toMatch(/bad magic/)
  })

  it('refuses a directory with data files but no manifest, and a manifest it cannot read', async () => {
    const { dir } = await storeWith(1)
    writeFileSync(join(dir, 'MANIFEST'), '{"version":1,')
    await expect(recover(nodeFileOps, dir)).rejects.toThrow(ManifestError)
    writeFileSync(join(dir, 'MANIFEST'), '{"version":2}')
    await expect(recover(nodeFileOps, dir)).rejects.toThrow(/expected shape/)
    unlinkSync(join(dir, 'MANIFEST'))
    expect((await recoveryError(dir)).message).toMatch(/MANIFEST: is missing but the directory holds data files/)
  })

  it('removes leftovers of an interrupted compaction at start', async () => {
    const { dir, chats } = await storeWith(2)
    writeFileSync(join(dir, 'snapshot-000009.snap.tmp'), 'half')
    writeFileSync(join(dir, 'log-000009.aof'), 'orphan')
    writeFileSync(join(dir, 'notes.txt'), 'not ours')
    const store = await openStore(dir)
    expect(await allChats(store)).toEqual(chats)
    expect(readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-000001.aof', 'notes.txt'])
    await store.close()
  })
})

describe('repair', () => {
  it('keeps what comes before the damage, moves the old files aside, and the store starts again', async () => {
    const { dir, chats, log } = await storeWith(6)
    const fourth = HEADER_BYTES + chats.slice(0, 3).reduce((sum, c) => sum + recordSize(c), 0)
    flipByte(log, fourth + 10)
    const lines: string[] = []
    expect(await main([dir], (l) => lines.push(l))).toBe(0)
    expect(lines[0]).toBe(`cut ${log} at byte offset ${fourth}: CRC-32 mismatch`)
    expect(lines[1]).toMatch(/repaired, 3 chats kept; the old files are in .*damaged-/)
    const aside = readdirSync(dir).find((n) => n.startsWith('damaged-'))!
    expect(readdirSync(join(dir, aside))).toEqual(['log-000001.aof'])
    const store = await openStore(dir)
    expect(await allChats(store)).toEqual(chats.slice(0, 3))
    await store.close()
    expect(await main([dir], (l) => lines.push(l))).toBe(0)
    expect(lines.at(-1)).toMatch(/nothing to repair \(3 chats load cleanly\)/)
  })

  it('repairs a damaged snapshot by keeping its records before the damage and the logs after it', async () => {
    const { dir, chats } = await storeWith(4, true)
    const store = await openStore(dir)
    const later = await store.create(DEFAULT_OWNER, { title: 'in the log' })
    await store.close()
    const snapshot = join(dir, readManifest(nodeFileOps, dir)!.snapshot!)
    flipByte(snapshot, HEADER_BYTES + recordSize(chats[0]!) + recordSize(chats[1]!) + 9)
    const synced: string[] = []
    const made: string[] = []
    const result = await repair(dir, { ...nodeFileOps, syncDir: (d) => { synced.push(d); nodeFileOps.syncDir(d) }, mkdir: (d) => { made.push(d); nodeFileOps.mkdir(d) } })
    expect(result.cuts).toHaveLength(1)
    expect(existsSync(snapshot)).toBe(false)
    // The folder the old files go to is made through the file layer, and both folders are synced after the moves.
    expect(made.at(-1)).toBe(result.movedTo)
    expect(synced.slice(-2)).toEqual([result.movedTo, dir])
    const repaired = await openStore(dir)
    expect(await allChats(repaired)).toEqual([chats[0], chats[1], later])
    await repaired.close()
  })

  it('prints its usage without a directory, and refuses one that does not exist', async () => {
    const lines: string[] = []
    expect(await main([], (l) => lines.push(l))).toBe(2)
    expect(lines[0]).toMatch(/usage: npm run repair -- <DATA_DIR>/)
    const missing = join(tempDir(), 'nope')
    expect(await main([missing], (l) => lines.push(l))).toBe(1)
    expect(lines[1]).toBe(`${missing}: no such directory`)
    expect(existsSync(missing)).toBe(false)
  })
})
