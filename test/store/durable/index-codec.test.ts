import { describe, expect, it } from 'vitest'
import { decodeIndexImage, encodeIndexImage, IndexImageReader } from '../../../src/store/durable/index-codec.js'
import { createMemoryStore } from '../../../src/store/memory/memory-store.js'
import type { ChatRecord } from '../../../src/store/records.js'
import { compareTitles } from '../../../src/store/memory/sort-keys.js'
import { chatTerms } from '../../../src/store/memory/tokenizer.js'
import { DEFAULT_OWNER } from '../../../src/store/types.js'

async function sample (): Promise<{ blob: Buffer, chats: ChatRecord[] }> {
  let t = Date.UTC(2025, 0, 1)
  const store = createMemoryStore({ maxItems: 100, maxBytes: 0, lockTimeoutMs: 1000, now: () => t++ })
  for (let i = 0; i < 20; i++) await store.create(DEFAULT_OWNER, { title: `Chat ${i % 4} ünï`, description: 'words here' })
  const { chats, capture } = await store.backend.withAll((all, image) => ({ chats: [...all.values()], capture: image()! }))
  return { blob: Buffer.concat((await encodeIndexImage(capture, chats))!), chats }
}

describe('index image codec', () => {
  it('reads an image given in pieces of any size as the whole', async () => {
    const { blob, chats } = await sample()
    const whole = decodeIndexImage(blob, chats)
    const reader = new IndexImageReader()
    expect(reader.started).toBe(false)
    for (let at = 0; at < blob.length; at += 7) reader.add(blob.subarray(at, at + 7))
    expect(reader.started).toBe(true)
    expect(reader.decode(chats)).toEqual(whole)
    expect(whole.records).toEqual(chats)
  })

  it('refuses an image whose bytes do not add up to its header, or for other chats', async () => {
    const { blob, chats } = await sample()
    expect(() => decodeIndexImage(Buffer.concat([blob, Buffer.alloc(4)]), chats)).toThrow(/longer than its header says/)
    expect(() => decodeIndexImage(blob.subarray(0, blob.length - 4), chats)).toThrow(/its header adds up to/)
    expect(() => decodeIndexImage(blob.subarray(0, 20), chats)).toThrow(/shorter than its header/)
    expect(() => decodeIndexImage(blob, chats.slice(1))).toThrow(/for 20 chats, the snapshot holds 19/)
    const layout = Buffer.from(blob)
    layout.writeUInt32LE(9, 0)
    expect(() => decodeIndexImage(layout, chats)).toThrow(/layout 9/)
    const huge = Buffer.from(blob)
    huge.writeUInt32LE(0xffffffff, 28)
    expect(() => decodeIndexImage(huge, chats)).toThrow(/header adds up to \d+ bytes/)
    const slots = Buffer.from(blob)
    slots.writeInt32LE(1, 36) // the first chat in the second's slot
    expect(() => decodeIndexImage(slots, chats)).toThrow(/puts chat 1 in slot 1/)
  })
})

describe('the rules a saved image was made with', () => {
  // Recovery trusts a saved image's title order and words. If this test fails, the rules changed:
  // bump LAYOUT in src/store/durable/index-codec.ts (older images are then built again), then update it.
  it('are the ones this layout version stands for', () => {
    const titles = ['alpha', 'Alpha', 'ALPHA beta', 'Ärger', 'arger', 'Zebra', 'zebra', 'Œuvre', 'ß', 'ss', 'İstanbul', 'istanbul', '東京', 'emoji 😀', 'a-b', 'a b', '']
    expect([...titles].sort((x, y) => compareTitles(x, y) || (x < y ? -1 : x > y ? 1 : 0)))
      .toEqual(['', 'a b', 'a-b', 'Alpha', 'alpha', 'ALPHA beta', 'arger', 'emoji 😀', 'istanbul', 'İstanbul', 'ss', 'Zebra', 'zebra', 'ß', 'Ärger', 'Œuvre', '東京'])
    expect([...chatTerms('Café Ärger İstanbul ß Œuvre', 'naïve co-op 東京 emoji😀 x2 hello_world')])
      .toEqual(['cafe', 'arger', 'istanbul', 'ß', 'œuvre', 'naive', 'co', 'op', '東京', 'emoji', 'x2', 'hello', 'world'])
  })
})
