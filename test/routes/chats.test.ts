import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { afterEach, beforeEach, describe, it, expect } from 'vitest'
import type { Config } from '../../src/config.js'
import { toAppError } from '../../src/error-handler.js'
import type { Chat } from '../../src/store/types.js'
import { createIdGenerator } from '../../src/store/ids.js'
import { estimateBytes } from '../../src/store/memory/memory-store.js'
import { build, jsonHeaders, TEST_STORE } from '../helper.js'

const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/
const MISSING_ID = createIdGenerator()()
const CHAT_KEYS = ['createdAt', 'description', 'id', 'isActive', 'priority', 'title', 'updatedAt', 'version']

type Res = LightMyRequestResponse
interface ProblemJson { type: string, title: string, status: number, detail?: string, errors?: Array<{ in: string, path: string, message: string }> }

/** Checks the answer is the contract's problem+json of this status and type, and returns its body. */
function expectProblem (res: Res, status: number, type: string): ProblemJson {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.headers['x-request-id']).toMatch(REQUEST_ID)
  const body = res.json<ProblemJson>()
  expect(body).toMatchObject({ type, status })
  expect(typeof body.title).toBe('string')
  return body
}

const errorPaths = (problem: ProblemJson): string[] => (problem.errors ?? []).map((e) => e.path).sort()

/** A fresh app for tests that need their own configuration, closed however the test ends. */
async function withApp (overrides: Partial<Config>, fn: (app: FastifyInstance) => Promise<void>): Promise<void> {
  const app = await build(overrides)
  try {
    await fn(app)
  } finally {
    await app.close()
  }
}

function api (app: FastifyInstance) {
  const send = async (method: InjectOptions['method'], url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Res> =>
    await app.inject({
      method,
      url,
      headers: payload === undefined ? headers : { ...jsonHeaders, ...headers },
      ...(payload === undefined ? {} : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
    })
  return {
    post: async (payload: unknown, headers?: Record<string, string>) => await send('POST', '/chats', payload, headers),
    get: async (id: string, headers?: Record<string, string>) => await send('GET', `/chats/${id}`, undefined, headers),
    patch: async (id: string, payload: unknown, headers?: Record<string, string>) => await send('PATCH', `/chats/${id}`, payload, headers),
    put: async (id: string, payload: unknown, headers?: Record<string, string>) => await send('PUT', `/chats/${id}`, payload, headers),
    del: async (id: string, headers?: Record<string, string>) => await send('DELETE', `/chats/${id}`, undefined, headers),
    list: async (query = '') => await send('GET', `/chats${query}`),
    /** Creates a chat, expecting success. */
    create: async (payload: Record<string, unknown> = { title: 'A chat' }): Promise<Chat> => {
      const res = await send('POST', '/chats', payload)
      expect(res.statusCode, res.body).toBe(201)
      return res.json<Chat>()
    },
    total: async (): Promise<number> => (await send('GET', '/chats')).json<{ total: number }>().total
  }
}

describe('chats routes', () => {
  let app: FastifyInstance
  let http: ReturnType<typeof api>

  beforeEach(async () => {
    app = await build()
    http = api(app)
  })
  afterEach(async () => { await app.close() })

  describe('POST /chats', () => {
    it('creates a chat with defaults: 201, Location, ETag, the chat', async () => {
      const res = await http.post({ title: 'Project update' })
      expect(res.statusCode).toBe(201)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      const chat = res.json<Chat>()
      expect(Object.keys(chat).sort()).toEqual(CHAT_KEYS)
      expect(chat).toMatchObject({ title: 'Project update', description: '', priority: 'medium', isActive: true, version: 1 })
      expect(chat.createdAt).toMatch(RFC3339_MS_UTC)
      expect(chat.updatedAt).toBe(chat.createdAt)
      expect(chat.id.length).toBeLessThanOrEqual(64)
      expect(chat.id).toMatch(/^[A-Za-z0-9._~-]+$/)
      expect(res.headers.location).toBe(`/chats/${chat.id}`)
      expect(res.headers.etag).toBe('"1"')

      const read = await app.inject({ url: res.headers.location })
      expect(read.json()).toEqual(chat)
    })

    it('stores every writable field as sent, with the title trimmed and nothing escaped', async () => {
      const chat = await http.create({ title: '  <b>Café</b> 😀 ', description: 'a\n\tb & <i>', priority: 'high', isActive: false })
      expect(chat).toMatchObject({ title: '<b>Café</b> 😀', description: 'a\n\tb & <i>', priority: 'high', isActive: false })
    })

    it('accepts a title of 200 code points (400 UTF-16 units)', async () => {
      const chat = await http.create({ title: '😀'.repeat(200) })
      expect(Array.from(chat.title)).toHaveLength(200)
    })

    it('gives every chat its own id, in creation order', async () => {
      const ids: string[] = []
      for (let i = 0; i < 20; i++) ids.push((await http.create({ title: `c${i}` })).id)
      expect(new Set(ids).size).toBe(20)
      expect([...ids].sort()).toEqual(ids)
    })

    it.each<[string, unknown, string[]]>([
      ['a number for the title', { title: 5 }, ['/title']],
      ['a string for a boolean', { title: 'a', isActive: 'true' }, ['/isActive']],
      ['a field the resource does not have', { title: 'a', owner: 'x' }, ['/owner']],
      ['a title of spaces only', { title: '   ' }, ['/title']],
      ['a control character in the title', { title: 'a\u0000b' }, ['/title']],
      ['a null title', { title: null }, ['/title']],
      ['a null description', { title: 'a', description: null }, ['/description']],
      ['no title', { description: 'x' }, ['/title']],
      ['an empty object', {}, ['/title']],
      ['an unknown priority', { title: 'a', priority: 'urgent' }, ['/priority']],
      ['a title of 201 code points', { title: '😀'.repeat(201) }, ['/title']],
      ['a description of 2001 code points', { title: 'a', description: '😀'.repeat(2001) }, ['/description']],
      ['a BEL in the description', { title: 'a', description: 'ding\u0007' }, ['/description']],
      ['the server-owned id', { title: 'a', id: 'x' }, ['/id']],
      ['the server-owned createdAt', { title: 'a', createdAt: '2020-01-01T00:00:00.000Z' }, ['/createdAt']],
      ['the server-owned updatedAt', { title: 'a', updatedAt: '2020-01-01T00:00:00.000Z' }, ['/updatedAt']],
      ['the server-owned version', { title: 'a', version: 1 }, ['/version']],
      ['an array', [{ title: 'a' }], ['']],
      ['a blank title and a string for a boolean', { title: '   ', isActive: 'true' }, ['/isActive', '/title']],
      ['control characters in title and description', { title: 'a\u0000b', description: 'x\u0007' }, ['/description', '/title']],
      ['a string', 'just text', ['']],
      ['null', null, ['']]
    ])('refuses %s with 400 validation and stores nothing', async (_name, body, paths) => {
      const res = await http.post(JSON.stringify(body))
      const problem = expectProblem(res, 400, '/problems/validation')
      expect(errorPaths(problem)).toEqual(paths)
      for (const e of problem.errors ?? []) expect(e.in).toBe('body')
      expect(problem.detail).toEqual(expect.stringContaining('body'))
      expect(await http.total()).toBe(0)
    })

    it('names every bad field in errors', async () => {
      const res = await http.post({ title: 5, description: 7, priority: 'urgent', isActive: 'true', owner: 'x', id: 'y' })
      const problem = expectProblem(res, 400, '/problems/validation')
      expect(errorPaths(problem)).toEqual(['/description', '/id', '/isActive', '/owner', '/priority', '/title'])
      for (const e of problem.errors ?? []) expect(e.message).toEqual(expect.any(String))
    })

    it('names every bad field of the rules beyond the schema too', async () => {
      const res = await http.post({ title: ' \t ', description: 'x\u0000' })
      expect(errorPaths(expectProblem(res, 400, '/problems/validation'))).toEqual(['/description', '/title'])
    })

    it.each([
      ['cut short', '{"title":'],
      ['single quotes', "{'title':'a'}"],
      ['trailing garbage', '{"title":"a"} x']
    ])('answers malformed JSON (%s) with 400 malformed-json', async (_name, body) => {
      expectProblem(await http.post(body), 400, '/problems/malformed-json')
      expect(await http.total()).toBe(0)
    })

    it('answers an empty body sent as JSON with 400 malformed-json', async () => {
      const res = await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: '' })
      expectProblem(res, 400, '/problems/malformed-json')
    })

    it('refuses a __proto__ key (prototype poisoning) with a 400', async () => {
      const res = await http.post('{"title":"a","__proto__":{"isAdmin":true}}')
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(await http.total()).toBe(0)
    })

    it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])('answers a %s body with 415', async (type) => {
      const res = await app.inject({ method: 'POST', url: '/chats', headers: { 'content-type': type }, payload: 'title=a' })
      expectProblem(res, 415, '/problems/unsupported-media-type')
      expect(await http.total()).toBe(0)
    })

    it('answers a body over BODY_LIMIT with 413 and stores nothing', async () => {
      await withApp({ BODY_LIMIT: 1024 }, async (small) => {
        const smallApi = api(small)
        expectProblem(await smallApi.post({ title: 'a', description: 'x'.repeat(1100) }), 413, '/problems/payload-too-large')
        expect(await smallApi.total()).toBe(0)
        // Just under the limit is fine.
        expect((await smallApi.post({ title: 'a', description: 'x'.repeat(900) })).statusCode).toBe(201)
      })
    })

    it('answers 507 capacity-exceeded past MAX_ITEMS, and stores nothing', async () => {
      await withApp({ MAX_ITEMS: 2 }, async (full) => {
        const fullApi = api(full)
        await fullApi.create()
        await fullApi.create()
        expectProblem(await fullApi.post({ title: 'one too many' }), 507, '/problems/capacity-exceeded')
        expect(await fullApi.total()).toBe(2)
      })
    })

    // MAX_STORE_BYTES guards this process's heap: the in-process stores have it, the Redis backend does not (Redis has maxmemory).
    it.skipIf(TEST_STORE === 'redis')('answers 507 past MAX_STORE_BYTES; reads, deletes and updates that do not grow keep working', async () => {
      // No history: a kept older version counts in the guard too (the backend suite tests that), and an update would grow.
      await withApp({ MAX_STORE_BYTES: estimateBytes('a', ''), HISTORY_VERSIONS: 0 }, async (full) => {
        const fullApi = api(full)
        const chat = await fullApi.create({ title: 'a' })
        expectProblem(await fullApi.post({ title: 'b' }), 507, '/problems/capacity-exceeded')
        expectProblem(await fullApi.patch(chat.id, { description: 'longer' }), 507, '/problems/capacity-exceeded')
        expect((await fullApi.get(chat.id)).statusCode).toBe(200)
        expect((await fullApi.patch(chat.id, { isActive: false })).statusCode).toBe(200)
        expect((await fullApi.del(chat.id)).statusCode).toBe(204)
        expect((await fullApi.post({ title: 'b' })).statusCode).toBe(201)
      })
    })

    it('never stores one over MAX_ITEMS under 500 concurrent creates', async () => {
      // A generous lock timeout: this test is about the count, not about speed.
      await withApp({ MAX_ITEMS: 100, LOCK_TIMEOUT_MS: 30_000 }, async (full) => {
        const fullApi = api(full)
        const answers = await Promise.all(Array.from({ length: 500 }, async (_, i) => await fullApi.post({ title: `chat ${i}` })))
        const byStatus = new Map<number, number>()
        for (const res of answers) byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1)
        expect(Object.fromEntries(byStatus)).toEqual({ 201: 100, 507: 400 })
        for (const res of answers.filter((r) => r.statusCode === 507)) expectProblem(res, 507, '/problems/capacity-exceeded')
        expect(await fullApi.total()).toBe(100)
      })
    })
  })

  describe('GET /chats/:id', () => {
    it('answers the chat with its ETag', async () => {
      const chat = await http.create({ title: 'x' })
      const res = await http.get(chat.id)
      expect(res.statusCode).toBe(200)
      expect(res.headers.etag).toBe('"1"')
      expect(res.json()).toEqual(chat)
    })

    it.each(['"1"', '*', '"7", "1"', 'W/"1"'])('answers If-None-Match %s with 304 and no body', async (header) => {
      const chat = await http.create()
      const res = await http.get(chat.id, { 'if-none-match': header })
      expect(res.statusCode).toBe(304)
      expect(res.body).toBe('')
      expect(res.headers.etag).toBe('"1"')
      expect(res.headers['content-length']).toBeUndefined()
      expect(res.headers['content-type']).toBeUndefined()
    })

    it('answers 200 when If-None-Match names another version', async () => {
      const chat = await http.create()
      await http.patch(chat.id, { title: 'changed' })
      const res = await http.get(chat.id, { 'if-none-match': '"1"' })
      expect(res.statusCode).toBe(200)
      expect(res.headers.etag).toBe('"2"')
      expect(res.json<Chat>().title).toBe('changed')
    })

    it.each([
      ['an unknown id', MISSING_ID],
      ['a word', 'nope'],
      ['an upper-case id', MISSING_ID.toUpperCase()],
      ['64 characters', 'a'.repeat(64)],
      ['300 characters', 'a'.repeat(300)],
      ['odd characters', "a'b;c!d"],
      ['a bad percent-encoding', '%E0%A4%A']
    ])('answers %s with 404 not-found', async (_name, id) => {
      await http.create()
      expectProblem(await http.get(id), 404, '/problems/not-found')
    })
  })

  describe('unknown routes', () => {
    it.each<[InjectOptions['method'], string]>([
      ['GET', '/nope'],
      ['GET', '/chats/a/b'],
      ['POST', '/chats/x'],
      ['DELETE', '/chats'],
      ['GET', '/%E0%A4%A']
    ])('answers %s %s with a 404 problem', async (method, url) => {
      expectProblem(await app.inject({ method, url }), 404, '/problems/not-found')
    })
  })

  describe('PATCH /chats/:id', () => {
    it('changes only the fields sent, bumps the version and answers the new ETag', async () => {
      const chat = await http.create({ title: 'x', description: 'd', priority: 'low' })
      const res = await http.patch(chat.id, { priority: 'high' })
      expect(res.statusCode).toBe(200)
      expect(res.headers.etag).toBe('"2"')
      const updated = res.json<Chat>()
      expect(updated).toEqual({ ...chat, priority: 'high', version: 2, updatedAt: updated.updatedAt })
      expect(updated.updatedAt).toMatch(RFC3339_MS_UTC)
      expect(updated.updatedAt > chat.updatedAt).toBe(true)
      expect((await http.get(chat.id)).json()).toEqual(updated)
    })

    it('takes application/merge-patch+json', async () => {
      const chat = await http.create({ title: 'x', description: 'keep me' })
      const res = await app.inject({
        method: 'PATCH',
        url: `/chats/${chat.id}`,
        headers: { 'content-type': 'application/merge-patch+json' },
        payload: JSON.stringify({ title: ' merged ', isActive: false })
      })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ title: 'merged', isActive: false, description: 'keep me', version: 2 })
    })

    it('refuses malformed merge-patch JSON with 400 malformed-json', async () => {
      const chat = await http.create()
      const res = await app.inject({
        method: 'PATCH',
        url: `/chats/${chat.id}`,
        headers: { 'content-type': 'application/merge-patch+json' },
        payload: '{"title":'
      })
      expectProblem(res, 400, '/problems/malformed-json')
    })

    it('clears a description with ""', async () => {
      const chat = await http.create({ title: 'x', description: 'd' })
      expect((await http.patch(chat.id, { description: '' })).json<Chat>().description).toBe('')
    })

    it.each<[string, unknown, string[]]>([
      ['an empty object', {}, ['']],
      ['null', null, ['']],
      ['a null title', { title: null }, ['/title']],
      ['a null description', { description: null }, ['/description']],
      ['a title of spaces only', { title: '  ' }, ['/title']],
      ['a string for a boolean', { isActive: 'false' }, ['/isActive']],
      ['a server-owned field', { version: 5 }, ['/version']],
      ['an unknown field', { title: 'a', colour: 'red' }, ['/colour']]
    ])('refuses %s with 400 validation and changes nothing', async (_name, body, paths) => {
      const chat = await http.create()
      const problem = expectProblem(await http.patch(chat.id, JSON.stringify(body)), 400, '/problems/validation')
      expect(errorPaths(problem)).toEqual(paths)
      expect((await http.get(chat.id)).json()).toEqual(chat)
    })

    it('answers 404 for an unknown id', async () => {
      expectProblem(await http.patch(MISSING_ID, { title: 'x' }), 404, '/problems/not-found')
      expectProblem(await http.patch('nope', { title: 'x' }), 404, '/problems/not-found')
    })

    it('answers a text/plain body with 415', async () => {
      const chat = await http.create()
      const res = await app.inject({ method: 'PATCH', url: `/chats/${chat.id}`, headers: { 'content-type': 'text/plain' }, payload: 'x' })
      expectProblem(res, 415, '/problems/unsupported-media-type')
    })
  })

  describe('PUT /chats/:id', () => {
    it('replaces the writable fields, resetting omitted ones to their defaults', async () => {
      const chat = await http.create({ title: 'x', description: 'd', priority: 'high', isActive: false })
      const res = await http.put(chat.id, { title: 'y' })
      expect(res.statusCode).toBe(200)
      expect(res.headers.etag).toBe('"2"')
      expect(res.json()).toEqual({
        ...chat,
        title: 'y',
        description: '',
        priority: 'medium',
        isActive: true,
        version: 2,
        updatedAt: res.json<Chat>().updatedAt
      })
      expect(res.json<Chat>().createdAt).toBe(chat.createdAt)
    })

    it('does not create: 404 for an unknown id, and nothing stored', async () => {
      expectProblem(await http.put(MISSING_ID, { title: 'x' }), 404, '/problems/not-found')
      expect(await http.total()).toBe(0)
    })

    it('requires a title and refuses unknown fields', async () => {
      const chat = await http.create()
      expect(errorPaths(expectProblem(await http.put(chat.id, { description: 'd' }), 400, '/problems/validation'))).toEqual(['/title'])
      expect(errorPaths(expectProblem(await http.put(chat.id, { title: 'a', id: chat.id }), 400, '/problems/validation'))).toEqual(['/id'])
      expect((await http.get(chat.id)).json()).toEqual(chat)
    })
  })

  describe('DELETE /chats/:id', () => {
    it('answers 204 with no body, then the chat is gone', async () => {
      const chat = await http.create()
      const res = await http.del(chat.id)
      expect(res.statusCode).toBe(204)
      expect(res.body).toBe('')
      expectProblem(await http.get(chat.id), 404, '/problems/not-found')
      expectProblem(await http.del(chat.id), 404, '/problems/not-found')
      expect(await http.total()).toBe(0)
    })

    it('answers 404 for an id that cannot be one', async () => {
      expectProblem(await http.del('not-an-id'), 404, '/problems/not-found')
    })

    it('takes an empty body sent with Content-Type: application/json as no body', async () => {
      const chat = await http.create()
      expect((await http.del(chat.id, jsonHeaders)).statusCode).toBe(204)
      expect(await http.total()).toBe(0)
    })

    it('refuses a body that is not JSON, of another type or too large, and deletes nothing (each declared in the document)', async () => {
      const chat = await http.create()
      const del = async (headers: Record<string, string>, payload: string): Promise<Res> =>
        await app.inject({ method: 'DELETE', url: `/chats/${chat.id}`, headers, payload })
      expectProblem(await del(jsonHeaders, '{'), 400, '/problems/malformed-json')
      expectProblem(await del(jsonHeaders, '{"__proto__":{}}'), 400, '/problems/validation')
      expectProblem(await del({ 'content-type': 'text/plain' }, 'bye'), 415, '/problems/unsupported-media-type')
      expectProblem(await del(jsonHeaders, JSON.stringify({ pad: 'x'.repeat(20_000) })), 413, '/problems/payload-too-large')
      expect(await http.total()).toBe(1)
    })
  })

  describe('If-Match', () => {
    const writes = {
      PATCH: async (id: string, headers: Record<string, string>) => await http.patch(id, { title: 'changed' }, headers),
      PUT: async (id: string, headers: Record<string, string>) => await http.put(id, { title: 'changed' }, headers),
      DELETE: async (id: string, headers: Record<string, string>) => await http.del(id, headers)
    }
    const methods = Object.keys(writes) as Array<keyof typeof writes>

    describe.each(methods)('%s', (method) => {
      it.each(['"2"', 'W/"1"', '"01"x', 'garbage'])('answers If-Match %s (not the current strong ETag) with 412 and changes nothing', async (header) => {
        const chat = await http.create()
        expectProblem(await writes[method](chat.id, { 'if-match': header }), 412, '/problems/precondition-failed')
        const now = await http.get(chat.id)
        expect(now.statusCode).toBe(200)
        expect(now.json()).toEqual(chat)
      })

      it.each(['"1"', '*', '"9", "1"'])('goes through with If-Match %s', async (header) => {
        const chat = await http.create()
        const res = await writes[method](chat.id, { 'if-match': header })
        expect(res.statusCode).toBe(method === 'DELETE' ? 204 : 200)
      })

      it('answers 404, not 412, for an unknown id', async () => {
        expectProblem(await writes[method](MISSING_ID, { 'if-match': '"1"' }), 404, '/problems/not-found')
      })
    })

    it('gives a new ETag on every write, and refuses writes based on an old one', async () => {
      const created = await http.post({ title: 'x' })
      const id = created.json<Chat>().id
      const etags = [created.headers.etag]
      let etag = String(created.headers.etag)
      for (const body of [{ title: 'a' }, { priority: 'low' }, { isActive: false }]) {
        const res = await http.patch(id, body, { 'if-match': etag })
        expect(res.statusCode).toBe(200)
        etag = String(res.headers.etag)
        etags.push(etag)
      }
      const replaced = await http.put(id, { title: 'b' }, { 'if-match': etag })
      etags.push(replaced.headers.etag)
      expect(new Set(etags).size).toBe(5)
      expect((await http.get(id)).headers.etag).toBe(replaced.headers.etag)

      expectProblem(await http.patch(id, { title: 'stale' }, { 'if-match': String(etags[0]) }), 412, '/problems/precondition-failed')
      expect((await http.get(id)).json<Chat>().title).toBe('b')
    })
  })

  describe('GET /chats', () => {
    it('answers an empty first page', async () => {
      const res = await http.list()
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ items: [], total: 0, limit: 20, offset: 0, nextCursor: null })
    })

    it('pages with limit and offset in creation order, and counts the total', async () => {
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await http.create({ title: `c${i}` })).id)
      const page = (await http.list('?limit=2&offset=1')).json<{ items: Chat[], total: number, limit: number, offset: number }>()
      expect(page.items.map((c) => c.id)).toEqual(ids.slice(1, 3))
      expect(page).toMatchObject({ total: 5, limit: 2, offset: 1 })
      expect((await http.list('?offset=4')).json<{ items: Chat[] }>().items.map((c) => c.id)).toEqual(ids.slice(4))
      expect((await http.list('?offset=9')).json()).toMatchObject({ items: [], total: 5 })
      expect((await http.list()).json<{ items: Chat[] }>().items).toHaveLength(5)
    })

    it('takes limits 1 and 100', async () => {
      await http.create()
      expect((await http.list('?limit=1')).statusCode).toBe(200)
      expect((await http.list('?limit=100')).json()).toMatchObject({ limit: 100 })
    })

    it.each([
      ['limit=0', '/limit'],
      ['limit=101', '/limit'],
      ['limit=abc', '/limit'],
      ['limit=1.5', '/limit'],
      ['offset=-1', '/offset']
    ])('answers %s with a 400', async (query, path) => {
      const problem = expectProblem(await http.list(`?${query}`), 400, '/problems/validation')
      expect(problem.errors).toEqual([expect.objectContaining({ in: 'querystring', path })])
    })

    it.each(['foo=bar', 'page=2', 'status=active', 'Sort=title'])('answers the parameter it does not know (%s) with a 400', async (query) => {
      const problem = expectProblem(await http.list(`?${query}`), 400, '/problems/validation')
      expect(problem.errors).toEqual([{ in: 'querystring', path: `/${query.split('=')[0]!}`, message: 'is not a known parameter' }])
    })

    it('lists every broken query rule', async () => {
      const problem = expectProblem(await http.list('?limit=0&offset=-1&foo=1'), 400, '/problems/validation')
      expect(errorPaths(problem)).toEqual(['/foo', '/limit', '/offset'])
    })
  })

  describe('X-Request-Id', () => {
    const requestId = async (url: string, sent?: string): Promise<string | undefined> => {
      const res = await app.inject({ url, headers: sent === undefined ? {} : { 'x-request-id': sent } })
      const id = res.headers['x-request-id']
      return typeof id === 'string' ? id : undefined
    }

    it.each(['abc-123._x', 'A', 'z'.repeat(128)])('echoes a valid one (%s), on success and on errors', async (sent) => {
      expect(await requestId('/chats', sent)).toBe(sent)
      expect(await requestId(`/chats/${MISSING_ID}`, sent)).toBe(sent)
      expect(await requestId('/nope', sent)).toBe(sent)
    })

    it.each([
      ['too long', 'z'.repeat(129)],
      ['with a space', 'abc 123'],
      ['with a slash', 'a/b'],
      ['with a colon', 'a:b'],
      ['empty', '']
    ])('replaces an invalid one (%s) with its own', async (_name, sent) => {
      const id = await requestId('/chats', sent)
      expect(id).toMatch(REQUEST_ID)
      expect(id).not.toBe(sent)
    })

    it('makes a new one for every request that sent none', async () => {
      const ids = await Promise.all([requestId('/chats'), requestId('/chats'), requestId('/nope')])
      for (const id of ids) expect(id).toMatch(REQUEST_ID)
      expect(new Set(ids).size).toBe(3)
    })

    it('is set on answers Fastify refuses before routing', async () => {
      const res = await app.inject({ url: `/chats/${'a'.repeat(300)}`, headers: { 'x-request-id': 'long-path' } })
      expect(res.headers['x-request-id']).toBe('long-path')
    })
  })

  describe('500: internal errors', () => {
    it('maps an unknown error to internal, without its message', () => {
      const problem = toAppError(new Error('boom'))
      expect(problem.kind).toBe('internal')
      expect(problem.status).toBe(500)
      expect(JSON.stringify(problem.toProblem())).not.toContain('boom')
      expect(toAppError('a string').kind).toBe('internal')
      expect(toAppError(undefined).kind).toBe('internal')
    })

    it('answers 500 /problems/internal without the internals when the store throws', async () => {
      app.store.get = async () => { throw new Error('secret internals') }
      const res = await app.inject({ url: '/chats/x', headers: { 'x-request-id': 'trace-me' } })
      const problem = expectProblem(res, 500, '/problems/internal')
      expect(res.body).not.toContain('secret')
      expect(res.body).not.toContain('stack')
      expect(res.body).not.toContain('.ts')
      expect(res.headers['x-request-id']).toBe('trace-me')
      expect(problem.detail).toEqual(expect.any(String))
    })

    it('answers 500 when something that is not an Error is thrown', async () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      app.store.list = async () => { throw 'secret string' }
      const res = await http.list()
      expectProblem(res, 500, '/problems/internal')
      expect(res.body).not.toContain('secret')
    })
  })
})
