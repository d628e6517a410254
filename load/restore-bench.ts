/**
 * What recovery's `restore` costs now that it rebuilds the query indexes: times `restore` of a map
 * of chats. Run: `npm run load -- restore [chats] [short|long] [image [K]]` (default
 * 100,000, short). `short`: titles and descriptions of a few words from a small vocabulary; `long`:
 * about 40-character titles (ending in the chat's number) and 125-character descriptions, of words
 * drawn from a vocabulary of 5,000, strings flat as recovery decodes them. `image`: also times what
 * a snapshot that saved its indexes costs instead: the copy taken in the write lock, its encoding,
 * and at recovery its decoding and `restoreImage`; `image K`: also `restoreImage` with a log of K
 * creates and K updates merged in.
 */
import { performance } from 'node:perf_hooks'
import { decodeIndexImage, encodeIndexImage } from '../src/store/durable/index-codec.js'
import { MemoryChatStore } from '../src/store/memory/memory-store.js'
import type { Change, ChatRecord } from '../src/store/records.js'
import { longTexts } from './long-texts.js'

const n = Number(process.argv[2] ?? 100_000)
const payload = process.argv[3] ?? 'short'
const WORDS = ['project', 'update', 'meeting', 'launch', 'review', 'customer', 'design', 'budget', 'weekly', 'sync']
const long = longTexts()
/** A flat copy, as strings decoded from a file are (built ones are ropes until first read). */
const flat = (s: string): string => Buffer.from(s).toString()

function texts (i: number): { title: string, description: string } {
  if (payload === 'long') {
    const { title, description } = long(i)
    return { title: flat(title), description: flat(description) }
  }
  return { title: `Title ${WORDS[i % 10]!} ${i % 997}`, description: `${WORDS[(i * 7) % 10]!} ${WORDS[(i * 3) % 10]!} text ${i % 5003}` }
}

function record (i: number): ChatRecord {
  const t = Date.UTC(2025, 0, 1) + i
  return { owner: 'default', id: `0190${String(i).padStart(32, '0')}`, ...texts(i), priority: (['low', 'medium', 'high'] as const)[i % 3]!, isActive: i % 4 !== 0, createdAt: t, updatedAt: t, version: 1 }
}

const chats = new Map<string, ChatRecord>()
for (let i = 0; i < n; i++) {
  const chat = record(i)
  chats.set(chat.id, chat)
}
const store = new MemoryChatStore({ maxItems: n, maxBytes: 0, lockTimeoutMs: 1000 })
const seconds = (from: number): string => `${((performance.now() - from) / 1000).toFixed(2)} s`
let started = performance.now()
store.restore(chats.values(), chats.size)
process.stdout.write(`restore of ${n.toLocaleString('en')} chats (${payload} texts): ${seconds(started)}\n`)

if (process.argv[4] === 'image') {
  const ordered = [...chats.values()]
  started = performance.now()
  const capture = await store.withAll((_all, image) => image())
  process.stdout.write(`  the indexes copied in the write lock: ${seconds(started)}\n`)
  started = performance.now()
  const blob = Buffer.concat((await encodeIndexImage(capture, ordered))!)
  process.stdout.write(`  encoded (off the lock, in steps): ${seconds(started)}, ${(blob.length / 1024 / 1024).toFixed(0)} MiB\n`)
  const again = new MemoryChatStore({ maxItems: n, maxBytes: 0, lockTimeoutMs: 1000 })
  started = performance.now()
  again.restoreImage(decodeIndexImage(blob, ordered), [])
  process.stdout.write(`  decodeIndexImage + restoreImage: ${seconds(started)}\n`)
  // A log after the snapshot: `k` creates and `k` updates (new texts) of other chats.
  const k = Number(process.argv[5] ?? 0)
  if (k > 0) {
    const tail: Change[] = []
    const after = new Map(chats)
    for (let i = 0; i < k; i++) {
      const chat = record(n + i)
      tail.push({ op: 'put', chat })
      after.set(chat.id, chat)
    }
    for (let i = 0; i < k; i++) {
      const before = ordered[(i * 7) % n]!
      const chat = { ...before, ...texts(2 * n + i), updatedAt: before.updatedAt + 1e9, version: 2 }
      tail.push({ op: 'put', chat })
      after.set(chat.id, chat)
    }
    const withLog = new MemoryChatStore({ maxItems: 2 * n, maxBytes: 0, lockTimeoutMs: 1000 })
    const image = decodeIndexImage(blob, ordered)
    started = performance.now()
    withLog.restoreImage(image, tail)
    process.stdout.write(`  restoreImage with a log of ${k.toLocaleString('en')} creates and ${k.toLocaleString('en')} updates: ${seconds(started)}\n`)
  }
}
