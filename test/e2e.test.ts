import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import type { Chat } from '../src/store/types.js'
import { build } from './helper.js'

/** The whole life of a chat over a real socket, with the platform's fetch. */
describe('end to end over HTTP', () => {
  let app: FastifyInstance
  let base: string

  beforeAll(async () => {
    app = await build()
    await app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  })
  afterAll(async () => { await app.close() })

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })

  it('creates, reads, updates, lists and deletes a chat', async () => {
    const created = await call('POST', '/chats', { title: ' Launch ', priority: 'high' }, { 'x-request-id': 'e2e-1' })
    expect(created.status).toBe(201)
    expect(created.headers.get('content-type')).toMatch(/^application\/json/)
    expect(created.headers.get('x-request-id')).toBe('e2e-1')
    const chat = await created.json() as Chat
    expect(chat).toMatchObject({ title: 'Launch', priority: 'high', description: '', isActive: true, version: 1 })
    expect(created.headers.get('location')).toBe(`/chats/${chat.id}`)
    const etag = created.headers.get('etag')
    expect(etag).toBe('"1"')

    const read = await call('GET', created.headers.get('location')!)
    expect(read.status).toBe(200)
    expect(read.headers.get('etag')).toBe(etag)
    expect(await read.json()).toEqual(chat)

    const notModified = await call('GET', `/chats/${chat.id}`, undefined, { 'if-none-match': etag! })
    expect(notModified.status).toBe(304)
    expect(await notModified.text()).toBe('')
    expect(notModified.headers.get('content-length')).toBeNull()

    const patched = await call('PATCH', `/chats/${chat.id}`, { isActive: false }, { 'if-match': etag! })
    expect(patched.status).toBe(200)
    expect(patched.headers.get('etag')).toBe('"2"')
    const updated = await patched.json() as Chat
    expect(updated).toMatchObject({ id: chat.id, isActive: false, version: 2, createdAt: chat.createdAt })
    expect(updated.updatedAt > chat.updatedAt).toBe(true)

    const stale = await call('PATCH', `/chats/${chat.id}`, { title: 'lost update' }, { 'if-match': etag! })
    expect(stale.status).toBe(412)
    expect(stale.headers.get('content-type')).toMatch(/^application\/problem\+json/)

    const listed = await call('GET', '/chats?limit=10')
    expect(listed.status).toBe(200)
    expect(await listed.json()).toEqual({ items: [updated], total: 1, limit: 10, offset: 0, nextCursor: null })

    const deleted = await call('DELETE', `/chats/${chat.id}`, undefined, { 'if-match': '"2"' })
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe('')

    const gone = await call('GET', `/chats/${chat.id}`)
    expect(gone.status).toBe(404)
    expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(gone.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._-]{1,128}$/)
    expect(await gone.json()).toMatchObject({ type: '/problems/not-found', status: 404 })
  })

  it('answers a path id over the router\'s length limit with a 404 problem', async () => {
    const res = await call('GET', `/chats/${'a'.repeat(500)}`)
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  })

  it('answers the health probes', async () => {
    const live = await call('GET', '/health/live')
    expect(live.status).toBe(200)
    expect(await live.json()).toEqual({ status: 'ok' })
    expect((await call('GET', '/health/ready')).status).toBe(200)
  })
})
