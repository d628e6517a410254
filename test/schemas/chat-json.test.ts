import Fastify, { type FastifyInstance } from 'fastify'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChatPageSchema, ChatSchema, PrioritySchema } from '../../src/schemas/chat.js'
import { ChatJsonCache, chatJson, jsonString } from '../../src/schemas/chat-json.js'
import { PRIORITIES, type Chat, type ListPage } from '../../src/store/types.js'

/** Any UTF-16 code units: quotes, backslashes, control characters, lone and paired surrogates. */
const TEXT = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', '\u007f', 'é', '\u2028', '\ud83d', '\ude00', '日'), maxLength: 60 }),
  fc.string({ maxLength: 300 })
)
const CHAT: fc.Arbitrary<Chat> = fc.record({
  id: fc.string({ unit: fc.constantFrom('0', '1', '9', 'a', 'f', '-'), maxLength: 40 }),
  title: TEXT,
  description: TEXT,
  priority: fc.constantFrom(...PRIORITIES),
  isActive: fc.boolean(),
  createdAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  updatedAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
})
const PAGE: fc.Arbitrary<ListPage> = fc.record({
  items: fc.array(CHAT, { maxLength: 5 }),
  total: fc.nat(),
  limit: fc.integer({ min: 1, max: 100 }),
  offset: fc.option(fc.nat(), { nil: undefined }),
  nextCursor: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: null })
}).map(({ offset, ...page }) => offset === undefined ? page : { ...page, offset })

/** What Fastify answers for a page through the route's response schema (fast-json-stringify). */
let app: FastifyInstance
let current: ListPage
beforeAll(async () => {
  app = Fastify()
  app.addSchema(PrioritySchema)
  app.addSchema(ChatSchema)
  app.addSchema(ChatPageSchema)
  app.get('/page', { schema: { response: { 200: { $ref: 'ChatPage' } } } }, async () => current)
  await app.ready()
})
afterAll(async () => { await app.close() })

async function bySchema (page: ListPage): Promise<Buffer> {
  current = page
  const res = await app.inject({ url: '/page' })
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
  return res.rawPayload
}

describe('page JSON', () => {
  it('is byte for byte what the response schema makes of a page', async () => {
    await fc.assert(fc.asyncProperty(PAGE, async (page) => {
      const cache = new ChatJsonCache()
      const expected = await bySchema(page)
      expect(cache.page(page).equals(expected)).toBe(true)
      // Again, from the cache.
      expect(cache.page(page).equals(expected)).toBe(true)
    }), { numRuns: 300 })
  })

  it('writes strings as JSON.stringify does', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => { expect(jsonString(s)).toBe(JSON.stringify(s)) }))
  })
})

describe('ChatJsonCache', () => {
  const chat = (n: number, description = ''): Chat => ({
    id: `id-${n}`, title: `Chat ${n}`, description, priority: 'low', isActive: true, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', version: 1
  })
  const bytes = (c: Chat): number => Buffer.byteLength(chatJson(c))

  it('gives the cached JSON of a chat at the same version, whatever object carries it, and new JSON for a new version', () => {
    const cache = new ChatJsonCache()
    const a = chat(1)
    const first = cache.of(a)
    expect(first.toString()).toBe(chatJson(a))
    expect(cache.size).toBe(1)
    expect(cache.of(a)).toBe(first)
    expect(cache.of({ ...a })).toBe(first)
    expect(cache.size).toBe(1)
    const b = { ...a, title: 'Changed é', version: 2 }
    expect(JSON.parse(cache.of(b).toString())).toEqual(b)
    // The new version takes the old one's place.
    expect(cache.size).toBe(1)
    expect(cache.byteLength).toBe(bytes(b))
    expect(JSON.parse(cache.of(chat(2)).toString())).toEqual(chat(2))
    expect(cache.size).toBe(2)
  })

  it('keeps at most its budget of bytes, the oldest going first, and never caches a chat over 4096 bytes', () => {
    const cache = new ChatJsonCache(bytes(chat(0)) * 3)
    const chats = Array.from({ length: 10 }, (_, n) => chat(n))
    for (const c of chats) cache.of(c)
    expect(cache.size).toBe(3)
    expect(cache.byteLength).toBeLessThanOrEqual(bytes(chat(0)) * 3)
    const big = chat(99, 'x'.repeat(5000))
    expect(cache.of(big).toString()).toBe(chatJson(big))
    expect(cache.size).toBe(3)
    expect(cache.byteLength).toBe(chats.slice(7).reduce((n, c) => n + bytes(c), 0))
    expect(cache.of(chats[9]!).toString()).toBe(chatJson(chats[9]!))
    expect(cache.of(chats[0]!).toString()).toBe(chatJson(chats[0]!))
    expect(cache.size).toBe(3)
  })

  it('caches nothing with a budget of 0', () => {
    const cache = new ChatJsonCache(0)
    expect(cache.of(chat(1)).toString()).toBe(chatJson(chat(1)))
    expect(cache.size).toBe(0)
  })
})

describe('ChatJsonCache pages', () => {
  it('never hands out the same bytes twice: earlier pages keep their content while later ones are made, small and large', () => {
    const cache = new ChatJsonCache()
    const chats = Array.from({ length: 100 }, (_, n): Chat => ({
      id: `id-${n}`, title: `Chat ${n}`, description: 'd'.repeat(n * 30), priority: 'high', isActive: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', version: n + 1
    }))
    const made: Array<[Buffer, string]> = []
    for (let i = 0; i < 400; i++) {
      const items = chats.slice(i % 90, (i % 90) + 1 + (i % 11))
      const page: ListPage = { items, total: 100, limit: 20, nextCursor: i % 2 === 0 ? null : `c${i}` }
      const text = JSON.stringify({ items, total: 100, limit: 20, nextCursor: page.nextCursor })
      made.push([cache.page(page), text])
    }
    for (const [buffer, text] of made) expect(buffer.toString()).toBe(text)
  })
})
