import { afterEach, describe, expect, it, vi } from 'vitest'
import { allChats, openStore, removeTempDirs, tempDir } from './helpers.js'
import { DEFAULT_OWNER } from '../../../src/store/types.js'

vi.mock('../../../src/store/durable/index-codec.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/store/durable/index-codec.js')>()
  return { ...original, encodeIndexImage: async () => { throw new Error('no room for the image') } }
})

afterEach(removeTempDirs)

describe('a compaction whose indexes cannot be encoded', () => {
  it('writes the snapshot without them, with a warning, and the next start builds them', async () => {
    const dir = tempDir()
    const warnings: string[] = []
    const logger = { info: () => undefined, error: () => undefined, warn: (_o: object, m: string) => { warnings.push(m) } }
    const store = await openStore(dir, { logger })
    for (let i = 0; i < 5; i++) await store.create(DEFAULT_OWNER, { title: `chat ${i}` })
    await store.backend.compact()
    expect(warnings).toEqual(['the indexes could not be encoded', 'the snapshot is written without its indexes: the next start builds them'])
    const expected = await allChats(store)
    await store.close()
    let indexes: unknown
    const reopened = await openStore(dir, { logger: { ...logger, info: (o: object, m: string) => { if (m === 'store recovered') indexes = (o as { indexes: unknown }).indexes } } })
    expect(indexes).toBe('built')
    expect(await allChats(reopened)).toEqual(expected)
    await reopened.close()
  })
})
