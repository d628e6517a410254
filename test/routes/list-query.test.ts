import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Chat } from '../../src/store/types.js'
import { epochMs } from '../../src/schemas/list-query.js'
import { build, jsonHeaders } from '../helper.js'

interface Page { items: Chat[], total: number, limit: number, offset?: number, nextCursor: string | null }
interface Problem { type: string, status: number, errors?: Array<{ in: string, path: string, message: string }> }

describe('GET /chats query parameters', () => {
  let app: FastifyInstance
  const chats: Chat[] = []
  const list = async (qs: string) => await app.inject({ method: 'GET', url: `/chats?${qs}` })
  const page = async (qs: string): Promise<Page> => {
    const res = await list(qs)
    expect(res.statusCode, res.body).toBe(200)
    return res.json<Page>()
  }
  const titles = async (qs: string): Promise<string[]> => (await page(qs)).items.map((c) => c.title)
  const problem = async (qs: string): Promise<Problem> => {
    const res = await list(qs)
    expect(res.statusCode, res.body).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const body = res.json<Problem>()
    expect(body.type).toBe('/problems/validation')
    return body
  }

  beforeAll(async () => {
    app = await build()
    const inputs = [
      { title: 'Project update', description: 'Weekly sync', priority: 'high', isActive: true },
      { title: 'café notes', description: 'snake_case naming', priority: 'low', isActive: false },
      { title: 'Budget', description: 'Projection for Q3', priority: 'medium', isActive: true },
      { title: 'alpha', priority: 'high', isActive: false },
      { title: 'Zeta launch', description: 'Café crème', priority: 'low', isActive: true }
    ]
    for (const input of inputs) {
      const res = await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: input })
      chats.push(res.json<Chat>())
      await new Promise((resolve) => setTimeout(resolve, 3))
    }
  })
  afterAll(async () => { await app.close() })

  it('filters by priority, as a comma list or repeated', async () => {
    expect(await titles('priority=high,low')).toEqual(['Project update', 'café notes', 'alpha', 'Zeta launch'])
    expect(await titles('priority=high&priority=low')).toEqual(['Project update', 'café notes', 'alpha', 'Zeta launch'])
    expect(await titles('priority=medium')).toEqual(['Budget'])
    expect((await page('priority=high')).total).toBe(2)
  })

  it('filters by isActive', async () => {
    expect(await titles('isActive=false')).toEqual(['café notes', 'alpha'])
    expect(await titles('isActive=true&priority=low')).toEqual(['Zeta launch'])
  })

  it('filters by createdFrom (inclusive) and createdTo (exclusive)', async () => {
    const [, second, third] = chats
    expect(await titles(`createdFrom=${second!.createdAt}&createdTo=${third!.createdAt}`)).toEqual(['café notes'])
    expect(await titles(`createdFrom=${third!.createdAt}`)).toEqual(['Budget', 'alpha', 'Zeta launch'])
    const offsetForm = new Date(Date.parse(third!.createdAt)).toISOString().replace('Z', '+00:00')
    expect(await titles(`createdTo=${encodeURIComponent(offsetForm)}`)).toEqual(['Project update', 'café notes'])
  })

  it('searches titles and descriptions by word prefixes, case- and accent-insensitively', async () => {
    expect(await titles('q=cafe')).toEqual(['café notes', 'Zeta launch'])
    expect(await titles('q=proj%20upd')).toEqual(['Project update'])
    expect(await titles('q=proj')).toEqual(['Project update', 'Budget'])
    expect(await titles('q=case')).toEqual(['café notes'])
    expect(await titles('q=CRÈME')).toEqual(['Zeta launch'])
    expect(await page('q=nothing')).toEqual({ items: [], total: 0, limit: 20, offset: 0, nextCursor: null })
  })

  it('sorts by any list of keys, ties by id', async () => {
    expect(await titles('sort=title')).toEqual(['alpha', 'Budget', 'café notes', 'Project update', 'Zeta launch'])
    expect(await titles('sort=-title')).toEqual(['Zeta launch', 'Project update', 'café notes', 'Budget', 'alpha'])
    expect(await titles('sort=-priority,title')).toEqual(['alpha', 'Project update', 'Budget', 'café notes', 'Zeta launch'])
    expect(await titles('sort=priority,-createdAt')).toEqual(['Zeta launch', 'café notes', 'Budget', 'alpha', 'Project update'])
    expect(await titles('sort=-createdAt')).toEqual(['Zeta launch', 'alpha', 'Budget', 'café notes', 'Project update'])
    expect(await titles('sort=updatedAt')).toEqual(chats.map((c) => c.title))
  })

  it('pages by cursor with the same filters and sort, limit free to change, with nextCursor on offset pages too', async () => {
    const first = await page('sort=title&limit=2')
    expect(first).toMatchObject({ total: 5, limit: 2, offset: 0 })
    expect(first.nextCursor).toEqual(expect.any(String))
    const second = await page(`sort=title&limit=3&cursor=${first.nextCursor!}`)
    expect(second.items.map((c) => c.title)).toEqual(['café notes', 'Project update', 'Zeta launch'])
    expect(second).not.toHaveProperty('offset')
    expect(second.nextCursor).toBeNull()
    expect((await page('sort=title&limit=2&offset=2')).nextCursor).toEqual(expect.any(String))
    expect((await page('sort=title&limit=2&offset=3')).nextCursor).toBeNull()
  })

  it('refuses a cursor with offset, with other filters or sort, or tampered with', async () => {
    const { nextCursor } = await page('sort=title&limit=2')
    const cursor = nextCursor!
    expect((await problem(`sort=title&cursor=${cursor}&offset=0`)).errors).toEqual([{ in: 'querystring', path: '/offset', message: 'cannot be combined with cursor' }])
    expect((await problem(`sort=-title&cursor=${cursor}`)).errors).toEqual([expect.objectContaining({ in: 'querystring', path: '/cursor' })])
    expect((await problem(`sort=title&priority=low&cursor=${cursor}`)).errors).toEqual([expect.objectContaining({ path: '/cursor' })])
    const flipped = cursor.slice(0, 5) + (cursor[5] === 'A' ? 'B' : 'A') + cursor.slice(6)
    expect((await problem(`sort=title&cursor=${flipped}`)).errors).toEqual([expect.objectContaining({ path: '/cursor' })])
    expect((await problem('cursor=')).errors).toEqual([expect.objectContaining({ path: '/cursor' })])
  })

  it('honours a cursor on another instance only when both share CURSOR_SECRET', async () => {
    const seed = async (target: FastifyInstance): Promise<void> => {
      for (const title of ['a', 'b', 'c']) await target.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title } })
    }
    const [one, two, stranger] = await Promise.all([build({ CURSOR_SECRET: 'shared' }), build({ CURSOR_SECRET: 'shared' }), build()])
    try {
      // Seeded first, `two` has the smaller ids: its "a" sorts before the cursor's ("a", id on `one`).
      for (const target of [two, one, stranger]) await seed(target)
      const cursor = (await one.inject({ url: '/chats?sort=title&limit=1' })).json<Page>().nextCursor!
      const onTwo = await two.inject({ url: `/chats?sort=title&cursor=${cursor}` })
      expect(onTwo.statusCode).toBe(200)
      expect(onTwo.json<Page>().items.map((c) => c.title)).toEqual(['b', 'c'])
      expect((await stranger.inject({ url: `/chats?sort=title&cursor=${cursor}` })).statusCode).toBe(400)
    } finally {
      await Promise.all([one.close(), two.close(), stranger.close()])
    }
  })

  it.each([
    ['priority=urgent', '/priority/0'],
    ['priority=high,', '/priority/0'],
    ['isActive=yes', '/isActive'],
    ['createdFrom=yesterday', '/createdFrom'],
    ['createdTo=2025-01-01', '/createdTo'],
    ['createdFrom=2025-01-01T00:00:00', '/createdFrom'],
    ['q=', '/q'],
    ['q=%20-_-%20', '/q'],
    ['sort=name', '/sort'],
    ['sort=createdAt,', '/sort'],
    ['sort=--title', '/sort'],
    ['sort=title&sort=createdAt', '/sort'],
    ['unknown=1', '/unknown']
  ])('answers %s with a 400 naming %s', async (qs, path) => {
    const body = await problem(qs)
    expect(body.errors?.map((e) => e.path)).toContain(path)
    expect(body.errors?.every((e) => e.in === 'querystring')).toBe(true)
  })
})

describe('epochMs', () => {
  it('reads RFC 3339 date-times, rounding finer digits up to the next millisecond', () => {
    const errors: never[] = []
    expect(epochMs('2025-01-01T00:00:00Z', '/x', errors)).toBe(Date.UTC(2025, 0, 1))
    expect(epochMs('2025-01-01t01:00:00.5+01:00', '/x', errors)).toBe(Date.UTC(2025, 0, 1, 0, 0, 0, 500))
    expect(epochMs('2025-01-01T00:00:00.123000Z', '/x', errors)).toBe(Date.UTC(2025, 0, 1, 0, 0, 0, 123))
    expect(epochMs('2025-01-01T00:00:00.1231Z', '/x', errors)).toBe(Date.UTC(2025, 0, 1, 0, 0, 0, 124))
    expect(errors).toEqual([])
  })

  it('reports a date-time the clock cannot hold', () => {
    const errors: Array<{ path: string }> = []
    epochMs('2025-01-01T23:59:60Z', '/createdTo', errors as never)
    expect(errors).toEqual([expect.objectContaining({ path: '/createdTo' })])
  })
})
