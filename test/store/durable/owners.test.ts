import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_OWNER } from '../../../src/store/types.js'
import { allChats, openStore, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

/** A data directory the release before owners wrote (format version 2): a snapshot with saved indexes, then a log. */
const BEFORE_OWNERS = join(new URL('../../fixtures/data-dir-before-owners', import.meta.url).pathname)

describe('durable store with owners', () => {
  it('loads a directory written before owners existed as the owner default\'s chats', async () => {
    const dir = tempDir()
    cpSync(BEFORE_OWNERS, dir, { recursive: true })
    const store = await openStore(dir)
    const chats = await allChats(store)
    expect(chats).toHaveLength(12)
    expect(chats.filter((c) => c.title.startsWith('Changed after the snapshot'))).toHaveLength(4)
    expect(chats.at(-1)?.title).toBe('Created after the snapshot')
    expect(chats.some((c) => c.title === 'Before owners 11')).toBe(false)
    expect(await store.count('alice')).toBe(0)
    expect(await store.get('alice', chats[0]!.id)).toBeUndefined()
    await store.backend.checkInvariants()
    // Writes go on, and a new owner's chats join them.
    await store.update(DEFAULT_OWNER, chats[0]!.id, { title: 'Changed after the upgrade' })
    await store.create('alice', { title: 'Alice after the upgrade' })
    await store.close()
    const reopened = await openStore(dir)
    expect(await reopened.count(DEFAULT_OWNER)).toBe(12)
    expect((await reopened.get(DEFAULT_OWNER, chats[0]!.id))?.title).toBe('Changed after the upgrade')
    expect((await reopened.list('alice', { limit: 5 })).items.map((c) => c.title)).toEqual(['Alice after the upgrade'])
    await reopened.close()
  })

  it('keeps each chat\'s owner through the log, a compaction and a restart', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const alice = await store.create('alice', { title: 'Alice one' })
    await store.create('bob', { title: 'Bob one' })
    await store.create('Ünïcode owner 🎉', { title: 'Someone else' })
    await store.close()
    const afterLog = await openStore(dir)
    expect((await afterLog.list('alice', { limit: 10 })).items).toEqual([alice])
    expect((await afterLog.list('bob', { limit: 10 })).items.map((c) => c.title)).toEqual(['Bob one'])
    expect(await afterLog.count('Ünïcode owner 🎉')).toBe(1)
    expect(await afterLog.get('bob', alice.id)).toBeUndefined()
    await afterLog.backend.compact()
    await afterLog.close()
    const afterSnapshot = await openStore(dir)
    expect((await afterSnapshot.list('alice', { limit: 10 })).items).toEqual([alice])
    expect(await afterSnapshot.count('bob')).toBe(1)
    expect((await afterSnapshot.health()).items).toBe(3)
    await afterSnapshot.backend.checkInvariants()
    await afterSnapshot.close()
  })
})
