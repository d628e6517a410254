import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChatStore } from '../../../src/store/chat-store.js'
import { DEFAULT_OWNER, type Chat } from '../../../src/store/types.js'
import { createDurableStore } from '../../../src/store/durable/durable-store.js'
import { FSYNC_MODES, PREALLOCATE_BYTES } from '../../../src/store/durable/append-log.js'
import { nodeFileOps, type FileOps } from '../../../src/store/durable/file-ops.js'
import { allChats, deferred, errno, failureOf, faultyOps, openStore, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

/** Some of every kind of write; answers what the store should hold after them. */
async function workload (store: Awaited<ReturnType<typeof openStore>>, n = 30): Promise<Chat[]> {
  const chats: Chat[] = []
  for (let i = 0; i < n; i++) chats.push(await store.create(DEFAULT_OWNER, { title: `chat ${i}`, description: 'x'.repeat(i), priority: 'low' }))
  for (let i = 0; i < n; i += 3) chats[i] = await store.update(DEFAULT_OWNER, chats[i]!.id, { title: `patched ${i}`, isActive: false })
  for (let i = 1; i < n; i += 3) chats[i] = await store.replace(DEFAULT_OWNER, chats[i]!.id, { title: `replaced ${i}` }, { ifVersion: [1] })
  for (let i = 2; i < n; i += 3) await store.delete(DEFAULT_OWNER, chats[i]!.id)
  return chats.filter((_, i) => i % 3 !== 2)
}

describe('durable store', () => {
  for (const fsync of FSYNC_MODES) {
    it(`keeps every change across a close and a reopen (FSYNC=${fsync})`, async () => {
      const dir = tempDir()
      const store = await openStore(dir, { fsync })
      const expected = await workload(store)
      await store.close()
      const reopened = await openStore(dir, { fsync })
      expect(await allChats(reopened)).toEqual(expected)
      expect(await reopened.count(DEFAULT_OWNER)).toBe(expected.length)
      expect((await reopened.health())).toMatchObject({ items: expected.length, readOnly: false, recovering: false })
      await reopened.backend.checkInvariants()
      await reopened.close()
    })
  }

  it('loses nothing acknowledged when the process dies without closing (the records are in the file before the reply)', async () => {
    const dir = tempDir()
    const store = await openStore(dir, { fsync: 'no' })
    const expected = await workload(store)
    const reopened = await openStore(dir)
    expect(await allChats(reopened)).toEqual(expected)
    await reopened.close()
  })

  it('gives new chats ids after the recovered ones, so creation order survives a restart', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await workload(store, 5)
    await store.close()
    const reopened = await openStore(dir)
    const fresh = await reopened.create(DEFAULT_OWNER, { title: 'after restart' })
    const all = await allChats(reopened)
    expect(all.at(-1)).toEqual(fresh)
    expect(all.map((c) => c.id)).toEqual(all.map((c) => c.id).sort())
    await reopened.close()
  })

  it('compacts when the log outgrows the snapshot: one snapshot and one log are left, and they load', async () => {
    const dir = tempDir()
    const store = await openStore(dir, { compactMinBytes: 4096, compactGrowthPercent: 100 })
    const expected = await workload(store, 120)
    await vi.waitFor(() => { expect(store.backend.files.compactions).toBeGreaterThan(0) })
    await store.backend.compact()
    const { snapshotBytes, logBytes } = store.backend.files
    expect(snapshotBytes).toBeGreaterThan(0)
    expect(logBytes).toBe(16)
    const files = readdirSync(dir).sort()
    expect(files).toHaveLength(3)
    expect(files[0]).toBe('MANIFEST')
    expect(files[1]).toMatch(/^log-\d+\.aof$/)
    expect(files[2]).toMatch(/^snapshot-\d+\.snap$/)
    expect(statSync(join(dir, files[2]!)).size).toBe(snapshotBytes)
    await store.close()
    const reopened = await openStore(dir)
    expect(await allChats(reopened)).toEqual(expected)
    await reopened.close()
  })

  it('keeps serving writes during a compaction, and those writes survive', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const expected = await workload(store, 60)
    const compaction = store.backend.compact()
    const during = await Promise.all(Array.from({ length: 40 }, (_, i) => store.create(DEFAULT_OWNER, { title: `during ${i}` })))
    await compaction
    const reopened = await openStore(dir)
    expect(await allChats(reopened)).toEqual([...expected, ...during])
    await reopened.backend.checkInvariants()
    await store.close()
    await reopened.close()
  })

  it('writes the changes of one event-loop turn together (one write), and answers them after it', async () => {
    const { ops, counts } = faultyOps()
    const store = await openStore(tempDir(), { ops })
    const [first] = await Promise.all([store.create(DEFAULT_OWNER, { title: 'a' }), store.create(DEFAULT_OWNER, { title: 'b' })])
    const before = counts.writes
    const written = await Promise.all([
      ...Array.from({ length: 8 }, async (_, i) => await store.create(DEFAULT_OWNER, { title: `together ${i}` })),
      store.update(DEFAULT_OWNER, first.id, { priority: 'high' })
    ])
    expect(written).toHaveLength(9)
    expect(counts.writes - before).toBe(1)
    await store.close()
  })

  it('writes the changes waiting before a read answers, so no answer shows what the file lacks', async () => {
    const dir = tempDir()
    const { ops, counts } = faultyOps()
    const store = await openStore(dir, { ops })
    const creating = store.create(DEFAULT_OWNER, { title: 'seen' })
    // Let the create apply its change (microtasks), but not reach the end of the turn.
    for (let i = 0; i < 5; i++) await Promise.resolve()
    const before = counts.writes
    const page = await store.list(DEFAULT_OWNER, { limit: 10, offset: 0 })
    expect(page.items.map((c) => c.title)).toEqual(['seen'])
    expect(counts.writes - before).toBe(1)
    await creating
    const reopened = await openStore(dir)
    expect((await allChats(reopened)).map((c) => c.title)).toEqual(['seen'])
    await reopened.close()
    await store.close()
  })

  it('with FSYNC=always, answers a write only after fdatasync, and concurrent writers share syncs', async () => {
    const dir = tempDir()
    const { ops, faults, counts } = faultyOps()
    const store = await openStore(dir, { fsync: 'always', ops })
    const gate = deferred()
    faults.holdSync = gate.promise
    let answered = 0
    const writes = Array.from({ length: 50 }, (_, i) => store.create(DEFAULT_OWNER, { title: `c${i}` }).then((chat) => { answered++; return chat }))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(answered).toBe(0)
    expect((await store.health()).items).toBe(50)
    const syncsBefore = counts.syncs
    delete faults.holdSync
    gate.resolve()
    await Promise.all(writes)
    expect(answered).toBe(50)
    expect(counts.syncs - syncsBefore).toBeGreaterThan(0)
    expect(counts.syncs - syncsBefore).toBeLessThanOrEqual(2)
    await store.close()
  })

  it('syncs what is left when it closes (FSYNC=no)', async () => {
    const dir = tempDir()
    const { ops, counts } = faultyOps()
    const store = await openStore(dir, { fsync: 'no', ops })
    await store.create(DEFAULT_OWNER, { title: 'a' })
    const before = counts.syncs
    await store.close()
    expect(counts.syncs).toBe(before + 1)
  })

  it('answers 503 on every call until recovery ends', async () => {
    const dir = tempDir()
    const first = await openStore(dir)
    await workload(first, 3)
    await first.close()
    const { ops, faults } = faultyOps()
    const gate = deferred()
    faults.holdRead = gate.promise
    const backend = createDurableStore({ maxItems: 100, maxBytes: 0, lockTimeoutMs: 1000, dataDir: dir, fsync: 'everysec', compactMinBytes: 1 << 20, compactGrowthPercent: 100, ops })
    const store = new ChatStore(backend)
    expect((await store.health())).toMatchObject({ recovering: true, readOnly: false })
    expect((await store.health()).detail).toMatch(/recovering/)
    for (const call of [store.get(DEFAULT_OWNER, 'x'), store.list(DEFAULT_OWNER, { limit: 1 }), store.create(DEFAULT_OWNER, { title: 't' }), store.count(DEFAULT_OWNER)]) {
      expect(await failureOf(call)).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 })
    }
    gate.resolve()
    await backend.recovered
    expect((await store.health())).toMatchObject({ recovering: false, readOnly: false, items: 2 })
    expect((await store.health()).detail).toBeUndefined()
    await store.close()
  })

  it('reads an empty directory as an empty store and makes its first files', async () => {
    const dir = join(tempDir(), 'nested', 'data')
    const store = await openStore(dir)
    expect(await store.count(DEFAULT_OWNER)).toBe(0)
    expect(readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-000001.aof'])
    await store.close()
    await store.close()
  })
})

describe('durable store on a failing disk', () => {
  it('refuses a write whose append fails (503, nothing changed), turns read-only, keeps reading, and heals', async () => {
    const dir = tempDir()
    const { ops, faults } = faultyOps()
    const store = await openStore(dir, { ops, retryMs: 10 })
    const kept = await workload(store, 9)
    faults.write = 'ENOSPC'
    const refused = await failureOf(store.create(DEFAULT_OWNER, { title: 'does not fit' }))
    expect(refused).toMatchObject({ code: 'unavailable', retryAfterSeconds: 5 })
    expect(refused?.message).toMatch(/read-only.*ENOSPC/)
    expect((await store.health())).toMatchObject({ readOnly: true, items: kept.length })
    expect((await store.health()).detail).toMatch(/ENOSPC/)
    expect(await failureOf(store.update(DEFAULT_OWNER, kept[0]!.id, { title: 'no' }))).toMatchObject({ code: 'unavailable' })
    expect(await failureOf(store.delete(DEFAULT_OWNER, kept[0]!.id))).toMatchObject({ code: 'unavailable' })
    expect(await allChats(store)).toEqual(kept)
    expect(await store.get(DEFAULT_OWNER, kept[0]!.id)).toEqual(kept[0])

    delete faults.write
    await vi.waitFor(async () => { expect((await store.health()).readOnly).toBe(false) })
    expect((await store.health()).detail).toBeUndefined()
    const after = await store.create(DEFAULT_OWNER, { title: 'fits again' })
    await store.close()
    const reopened = await openStore(dir)
    expect(await allChats(reopened)).toEqual([...kept, after])
    await reopened.close()
  })

  it('takes back every change of a turn whose write fails: all refused (503), the store as before, the files too', async () => {
    const dir = tempDir()
    const { ops, faults } = faultyOps()
    const store = await openStore(dir, { ops, retryMs: 10 })
    const kept = await workload(store, 12)
    faults.write = 'EIO'
    const [patched, replaced, deleted] = [kept[0]!, kept[1]!, kept[2]!]
    const refused = await Promise.all([
      failureOf(store.create(DEFAULT_OWNER, { title: 'new', description: 'words here' })),
      failureOf(store.update(DEFAULT_OWNER, patched.id, { title: 'changed title', priority: 'high' })),
      failureOf(store.replace(DEFAULT_OWNER, replaced.id, { title: 'replaced again' })),
      failureOf(store.delete(DEFAULT_OWNER, deleted.id)),
      failureOf(store.update(DEFAULT_OWNER, deleted.id, { isActive: true }))
    ])
    for (const err of refused.slice(0, 4)) expect(err).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/read-only.*EIO/) as unknown })
    // The last one ran after the delete, in the same turn: the chat was gone for it.
    expect(refused[4]).toMatchObject({ code: 'notFound' })
    expect(await allChats(store)).toEqual(kept)
    expect((await store.list(DEFAULT_OWNER, { limit: 10, offset: 0, q: 'changed' })).total).toBe(0)
    expect((await store.list(DEFAULT_OWNER, { limit: 10, offset: 0, priority: ['high'] })).total).toBe(0)
    await store.backend.checkInvariants()
    delete faults.write
    await vi.waitFor(async () => { expect((await store.health()).readOnly).toBe(false) })
    await store.close()
    const reopened = await openStore(dir)
    expect(await allChats(reopened)).toEqual(kept)
    await reopened.close()
  })

  for (const fsync of ['everysec', 'always'] as const) {
    it(`refuses a write whose record a read wrote and lost before the writer asked (FSYNC=${fsync})`, async () => {
      const { ops, faults } = faultyOps()
      const store = await openStore(tempDir(), { ops, fsync, retryMs: 60_000 })
      faults.write = 'EIO'
      const creating = store.create(DEFAULT_OWNER, { title: 'taken back' })
      // The create's change is applied; this read writes it first, the write fails, the change is taken back.
      expect(await store.count(DEFAULT_OWNER)).toBe(0)
      expect(await failureOf(creating)).toMatchObject({ code: 'unavailable' })
      expect(await store.count(DEFAULT_OWNER)).toBe(0)
      await store.close()
    })
  }

  it('does not compact away from a log a failed write left torn, so the directory still loads', async () => {
    const dir = tempDir()
    const first = await openStore(dir)
    for (let i = 0; i < 5; i++) await first.create(DEFAULT_OWNER, { title: `chat ${i}` })
    await first.close()
    // Writes to the log in use when it is armed fail half-way (a torn record); new files still write.
    let current = -1
    let failing = -1
    const ops: FileOps = {
      ...nodeFileOps,
      open (path, flags) {
        const fd = nodeFileOps.open(path, flags)
        if (/log-\d+\.aof$/.test(path)) current = fd
        return fd
      },
      write (fd, data, position) {
        if (fd === failing && data.length !== PREALLOCATE_BYTES) {
          nodeFileOps.write(fd, data.subarray(0, data.length >> 1), position)
          throw errno('EIO')
        }
        nodeFileOps.write(fd, data, position)
      },
      close (fd) {
        if (fd === failing) failing = -1
        nodeFileOps.close(fd)
      }
    }
    const store = await openStore(dir, { ops, compactMinBytes: 1, compactGrowthPercent: 0, retryMs: 60_000 })
    await vi.waitFor(() => { expect(store.backend.files.compactions).toBe(1) })
    failing = current
    // Its append asks for a compaction (the log is past the thresholds) before its write fails.
    expect(await failureOf(store.create(DEFAULT_OWNER, { title: 'x'.repeat(200) }))).toMatchObject({ code: 'unavailable' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    await store.close()
    const reopened = await openStore(dir)
    expect((await allChats(reopened)).map((c) => c.title)).toEqual(['chat 0', 'chat 1', 'chat 2', 'chat 3', 'chat 4'])
    await reopened.close()
  })

  it('with FSYNC=always, refuses the writes whose sync fails and turns read-only until a sync works', async () => {
    const dir = tempDir()
    const { ops, faults } = faultyOps()
    const store = await openStore(dir, { fsync: 'always', ops, retryMs: 10 })
    const kept = await store.create(DEFAULT_OWNER, { title: 'kept' })
    faults.sync = 'EIO'
    const refused = await failureOf(store.create(DEFAULT_OWNER, { title: 'not synced' }))
    expect(refused).toMatchObject({ code: 'unavailable' })
    expect(refused?.message).toMatch(/syncing the log failed \(EIO\)/)
    expect((await store.health()).readOnly).toBe(true)
    expect(await store.get(DEFAULT_OWNER, kept.id)).toEqual(kept)
    delete faults.sync
    await vi.waitFor(async () => { expect((await store.health()).readOnly).toBe(false) })
    await store.create(DEFAULT_OWNER, { title: 'synced' })
    await store.close()
  })

  it('with FSYNC=everysec, turns read-only when the background sync fails', async () => {
    const dir = tempDir()
    const { ops, faults } = faultyOps()
    const store = await openStore(dir, { fsync: 'everysec', ops, retryMs: 60_000 })
    faults.sync = 'EIO'
    await store.create(DEFAULT_OWNER, { title: 'acknowledged before the sync' })
    await vi.waitFor(async () => { expect((await store.health()).readOnly).toBe(true) }, { timeout: 3000 })
    expect(await failureOf(store.create(DEFAULT_OWNER, { title: 'refused' }))).toMatchObject({ code: 'unavailable' })
    await store.close()
  })

  it('keeps a store that loads whatever file operation of a compaction dies', async () => {
    const dir = tempDir()
    const first = await openStore(dir, { compactMinBytes: 1 << 30 })
    const expected = await workload(first, 30)
    await first.backend.compact()
    expected.push(...await workload(first, 6))
    await first.close()

    let k = 1
    for (; ; k++) {
      const { ops, died } = dyingOps(k)
      const store = await openStore(dir, { ops, compactMinBytes: 1 << 30, retryMs: 3_600_000 })
      died.armed = true
      const done = await store.backend.compact().then(() => true, () => false)
      // Whatever the crash left, the directory loads, with every acknowledged change.
      const reopened = await openStore(dir)
      expect(await allChats(reopened)).toEqual(expected)
      const extra = await reopened.create(DEFAULT_OWNER, { title: `after crash ${k}` })
      expected.push(extra)
      await reopened.close()
      if (done && !died.dead) break
      expect(k).toBeLessThan(60)
    }
    // Every step of a compaction was a crash point: new log, manifests, snapshot, renames, removals.
    expect(k).toBeGreaterThan(10)
  })
})

/** File operations that all throw from the k-th mutating one on, once armed: a process dying at that point. */
function dyingOps (k: number): { ops: FileOps, died: { armed: boolean, dead: boolean } } {
  const died = { armed: false, dead: false }
  let count = 0
  const check = (): void => {
    if (!died.armed) return
    if (died.dead || ++count >= k) {
      died.dead = true
      throw new Error('the process died here')
    }
  }
  const ops: FileOps = {
    ...nodeFileOps,
    open: (path, flags) => { check(); return nodeFileOps.open(path, flags) },
    write: (fd, data, position) => { check(); nodeFileOps.write(fd, data, position) },
    truncate: (fd, length) => { check(); nodeFileOps.truncate(fd, length) },
    fdatasync: (fd) => { check(); nodeFileOps.fdatasync(fd) },
    fdatasyncAsync: async (fd) => { check(); await nodeFileOps.fdatasyncAsync(fd) },
    rename: (from, to) => { check(); nodeFileOps.rename(from, to) },
    unlink: (path) => { check(); nodeFileOps.unlink(path) },
    syncDir: (d) => { check(); nodeFileOps.syncDir(d) }
  }
  return { ops, died }
}
