import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, jsonHeaders } from '../helper.js'

/** Isolation on every /chats route, over HTTP, with two owners' API keys. */
const dir = mkdtempSync(join(tmpdir(), 'chat-owners-'))
const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
const as = (key: string) => ({ ...jsonHeaders, 'x-api-key': key })
let app: FastifyInstance

beforeAll(async () => {
  const keys = join(dir, 'keys.txt')
  writeFileSync(keys, `alice ${sha('alice-key')}\nbob ${sha('bob-key')}\n`)
  app = await build({ AUTH_MODE: 'api-key', API_KEYS_FILE: keys, MAX_ITEMS_PER_OWNER: 3 })
})
afterAll(async () => {
  await app.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('owners over HTTP', () => {
  it('shows and changes a chat for its owner only: another owner gets 404 on every route, whatever If-Match says, and nothing changes', async () => {
    const created = await app.inject({ method: 'POST', url: '/chats', headers: as('alice-key'), payload: { title: 'Alice only' } })
    expect(created.statusCode).toBe(201)
    const chat = created.json<{ id: string, version: number }>()
    const url = `/chats/${chat.id}`
    const bob = as('bob-key')
    expect((await app.inject({ method: 'GET', url, headers: bob })).statusCode).toBe(404)
    for (const ifMatch of [undefined, '*', '"1"']) {
      const headers = ifMatch === undefined ? bob : { ...bob, 'if-match': ifMatch }
      expect((await app.inject({ method: 'PATCH', url, headers, payload: { title: 'Bob was here' } })).statusCode).toBe(404)
      expect((await app.inject({ method: 'PUT', url, headers, payload: { title: 'Bob was here' } })).statusCode).toBe(404)
      expect((await app.inject({ method: 'DELETE', url, headers })).statusCode).toBe(404)
    }
    const list = await app.inject({ url: '/chats', headers: bob })
    expect(list.json()).toMatchObject({ items: [], total: 0 })
    const mine = await app.inject({ method: 'GET', url, headers: as('alice-key') })
    expect(mine.json()).toMatchObject({ title: 'Alice only', version: 1 })
  })

  it('refuses a cursor made for another owner with a 400 naming the cursor', async () => {
    for (let i = 0; i < 2; i++) await app.inject({ method: 'POST', url: '/chats', headers: as('bob-key'), payload: { title: `Bob ${i}` } })
    const page = (await app.inject({ url: '/chats?limit=1', headers: as('bob-key') })).json<{ nextCursor: string }>()
    expect(page.nextCursor).toEqual(expect.any(String))
    const stolen = await app.inject({ url: `/chats?limit=1&cursor=${encodeURIComponent(page.nextCursor)}`, headers: as('alice-key') })
    expect(stolen.statusCode).toBe(400)
    expect(stolen.json()).toMatchObject({ type: '/problems/validation', errors: [expect.objectContaining({ in: 'querystring', path: '/cursor' })] })
  })

  it('holds an owner to MAX_ITEMS_PER_OWNER with a 507 that names the quota, and leaves the other owner be', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      app.inject({ method: 'POST', url: '/chats', headers: as('alice-key'), payload: { title: `Alice ${i}` } })))
    // Alice had one chat: two more fit.
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(2)
    const refused = answers.find((a) => a.statusCode === 507)!
    expect(refused.json()).toMatchObject({ type: '/problems/capacity-exceeded', detail: expect.stringMatching(/quota of 3/) as unknown })
    expect((await app.inject({ url: '/chats', headers: as('alice-key') })).json()).toMatchObject({ total: 3 })
    expect((await app.inject({ method: 'POST', url: '/chats', headers: as('bob-key'), payload: { title: 'Bob 3' } })).statusCode).toBe(201)
  })
})
