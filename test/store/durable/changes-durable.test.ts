import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeFileOps } from '../../../src/store/durable/file-ops.js'
import { logName, writeManifest } from '../../../src/store/durable/manifest.js'
import { encodeEntry, encodeHeader, FileKind } from '../../../src/store/durable/record-codec.js'
import type { ChatRecord } from '../../../src/store/records.js'
import { DEFAULT_OWNER } from '../../../src/store/types.js'
import { failureOf, openStore, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

const once = { key: 'retry-me', fingerprint: 'body-1' }

describe('the change feed, history and keys on the durable backend', () => {
  for (const compact of [false, true]) {
    it(`survive a restart ${compact ? 'from a snapshot with a log after it' : 'from the log alone'}: same changes, same seqs, history and keys, and new seqs come after`, async () => {
      const dir = tempDir()
      const options = { historyVersions: 3, changesRetain: 4 }
      const store = await openStore(dir, options)
      const made = await store.createOnce('alice', { title: 'a' }, once)
      for (let i = 0; i < 3; i++) await store.update('alice', made.chat.id, { title: `a${i}` })
      const gone = await store.create('alice', { title: 'gone' })
      await store.create('bob', { title: 'b' })
      if (compact) await store.backend.compact()
      await store.delete('alice', gone.id)
      await store.update('bob', (await store.list('bob', { limit: 1 })).items[0]!.id, { priority: 'high' })
      const before = { alice: await store.changes('alice', undefined, 100), bob: await store.changes('bob', undefined, 100), history: await store.history('alice', made.chat.id, { limit: 20 }) }
      expect(before.alice.items.map((c) => c.type)).toEqual(['updated', 'updated', 'created', 'deleted'])
      const expiredAfter = (await store.changes('alice', before.alice.items[0]!.seq, 1)).items[0]!.seq
      await store.close()

      const again = await openStore(dir, options)
      expect(await again.changes('alice', undefined, 100)).toEqual(before.alice)
      expect(await again.changes('bob', undefined, 100)).toEqual(before.bob)
      expect(await again.history('alice', made.chat.id, { limit: 20 })).toEqual(before.history)
      expect(before.history.items.map((h) => h.version)).toEqual([2, 3, 4])
      expect(await again.createOnce('alice', { title: 'a' }, once)).toEqual({ chat: made.chat, replayed: true })
      await again.backend.checkInvariants()
      // The floor is kept: a position before the last change dropped is still expired (the one right after it is not).
      const dropped = (await failureOf(again.changes('alice', String(Number(before.alice.items[0]!.seq) - 2).padStart(16, '0'), 10)))
      expect(dropped?.code).toBe('expired')
      expect((await again.changes('alice', before.alice.items[0]!.seq, 10)).items[0]!.seq).toBe(expiredAfter)
      const next = await again.create('alice', { title: 'after the restart' })
      const tail = await again.changes('alice', before.alice.nextAfter, 10)
      expect(tail.items.map((c) => c.id)).toEqual([next.id])
      expect(tail.items[0]!.seq > before.bob.nextAfter).toBe(true)
      await again.close()
    })
  }

  it('loads a format 3 data directory (before the feed): the chats, no changes yet, a history of one version; then records and keeps new changes', async () => {
    const dir = tempDir()
    const chat = (n: number, owner = DEFAULT_OWNER): ChatRecord => ({ owner, id: `01a00000-0000-7000-8000-00000000000${n}`, title: `old ${n}`, description: '', priority: 'low', isActive: true, createdAt: 1_700_000_000_000 + n, updatedAt: 1_700_000_000_000 + n, version: 1 })
    const header = encodeHeader(FileKind.log)
    header.writeUInt16LE(3, 8)
    writeFileSync(join(dir, logName(1)), Buffer.concat([header, encodeEntry({ op: 'put', chat: chat(1) }), encodeEntry({ op: 'put', chat: chat(2, 'alice') }), encodeEntry({ op: 'put', chat: { ...chat(1), title: 'old 1 again', version: 2, updatedAt: chat(1).updatedAt + 5 } }), encodeEntry({ op: 'put', chat: chat(3) }), encodeEntry({ op: 'delete', id: chat(3).id })]))
    writeManifest(nodeFileOps, dir, { version: 1, snapshot: null, logs: [logName(1)], next: 2 })
    const store = await openStore(dir, { historyVersions: 5 })
    expect(await store.count(DEFAULT_OWNER)).toBe(1)
    expect(await store.count('alice')).toBe(1)
    expect((await store.changes(DEFAULT_OWNER, undefined, 10)).items).toEqual([])
    const history = await store.history(DEFAULT_OWNER, chat(1).id, { limit: 10 })
    expect(history.items.map((h) => [h.version, h.chat.title])).toEqual([[1, 'old 1'], [2, 'old 1 again']])
    const head = (await store.changes(DEFAULT_OWNER, undefined, 0)).nextAfter
    await store.update(DEFAULT_OWNER, chat(1).id, { title: 'new' })
    await store.close()
    const again = await openStore(dir, { historyVersions: 5 })
    const changes = await again.changes(DEFAULT_OWNER, head, 10)
    expect(changes.items.map((c) => [c.type, c.version, c.chat?.title])).toEqual([['updated', 3, 'new']])
    expect((await again.history(DEFAULT_OWNER, chat(1).id, { limit: 10 })).items.map((h) => h.version)).toEqual([1, 2, 3])
    await again.backend.checkInvariants()
    await again.close()
  })

  it('answers a create under a key only once it is durable: meanwhile the same key is in flight (FSYNC=always)', async () => {
    const store = await openStore(tempDir(), { fsync: 'always' })
    const first = store.createOnce('alice', { title: 'a' }, once)
    await new Promise((resolve) => setImmediate(resolve))
    expect((await failureOf(store.createOnce('alice', { title: 'a' }, once)))?.code).toBe('keyInFlight')
    const made = await first
    expect(await store.createOnce('alice', { title: 'a' }, once)).toEqual({ chat: made.chat, replayed: true })
    await store.close()
  })
})
