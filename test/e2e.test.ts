import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import { createChatsClient, type ChatsClient } from '../src/client/index.js'
import { build } from './helper.js'

/**
 * The whole life of a chat over a real socket, through the typed client generated from the
 * document (src/client): a change to openapi/openapi.json that breaks a client breaks `tsc` here.
 */
describe('end to end over HTTP, with the typed client', () => {
  let app: FastifyInstance
  let client: ChatsClient

  beforeAll(async () => {
    app = await build()
    await app.listen({ port: 0, host: '127.0.0.1' })
    client = createChatsClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` })
  })
  afterAll(async () => { await app.close() })

  it('creates, reads, updates, lists and deletes a chat', async () => {
    const created = await client.POST('/chats', { body: { title: ' Launch ', priority: 'high' }, headers: { 'x-request-id': 'e2e-1' } })
    expect(created.response.status).toBe(201)
    expect(created.response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(created.response.headers.get('x-request-id')).toBe('e2e-1')
    const chat = created.data!
    expect(chat).toMatchObject({ title: 'Launch', priority: 'high', description: '', isActive: true, version: 1 })
    expect(created.response.headers.get('location')).toBe(`/chats/${chat.id}`)
    const etag = created.response.headers.get('etag')!
    expect(etag).toBe('"1"')

    const path = { id: chat.id }
    const read = await client.GET('/chats/{id}', { params: { path } })
    expect(read.response.status).toBe(200)
    expect(read.response.headers.get('etag')).toBe(etag)
    expect(read.data).toEqual(chat)

    const head = await client.HEAD('/chats/{id}', { params: { path } })
    expect(head.response.status).toBe(200)
    expect(head.response.headers.get('etag')).toBe(etag)

    const notModified = await client.GET('/chats/{id}', { params: { path, header: { 'if-none-match': etag } }, parseAs: 'text' })
    expect(notModified.response.status).toBe(304)
    expect(notModified.data ?? notModified.error).toBe('')
    expect(notModified.response.headers.get('content-length')).toBeNull()

    const patched = await client.PATCH('/chats/{id}', { params: { path, header: { 'if-match': etag } }, body: { isActive: false } })
    expect(patched.response.status).toBe(200)
    expect(patched.response.headers.get('etag')).toBe('"2"')
    const updated = patched.data!
    expect(updated).toMatchObject({ id: chat.id, isActive: false, version: 2, createdAt: chat.createdAt })
    expect(updated.updatedAt > chat.updatedAt).toBe(true)

    const stale = await client.PATCH('/chats/{id}', { params: { path, header: { 'if-match': etag } }, body: { title: 'lost update' } })
    expect(stale.response.status).toBe(412)
    expect(stale.response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(stale.error).toMatchObject({ type: '/problems/precondition-failed', status: 412 })

    const listed = await client.GET('/chats', { params: { query: { limit: 10 } } })
    expect(listed.response.status).toBe(200)
    expect(listed.data).toEqual({ items: [updated], total: 1, limit: 10, offset: 0, nextCursor: null })
    // `limit` is optional: its default applies.
    expect((await client.GET('/chats')).data?.limit).toBe(20)

    const deleted = await client.DELETE('/chats/{id}', { params: { path, header: { 'if-match': '"2"' } } })
    expect(deleted.response.status).toBe(204)
    expect(deleted.data).toBeUndefined()

    const gone = await client.GET('/chats/{id}', { params: { path } })
    expect(gone.response.status).toBe(404)
    expect(gone.response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(gone.response.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._-]{1,128}$/)
    expect(gone.error).toMatchObject({ type: '/problems/not-found', status: 404 })
  })

  it('answers a path id over the router\'s length limit with a 404 problem', async () => {
    const res = await client.GET('/chats/{id}', { params: { path: { id: 'a'.repeat(500) } } })
    expect(res.response.status).toBe(404)
    expect(res.response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(res.error).toMatchObject({ type: '/problems/not-found' })
  })

  it('answers a validation problem naming the field, typed as the document\'s Problem', async () => {
    const res = await client.POST('/chats', { body: { title: ' ', description: 'x'.repeat(2001) } })
    expect(res.response.status).toBe(400)
    expect(res.error?.errors?.map((e) => e.path).sort()).toEqual(['/description', '/title'])
  })

  it('answers the health probes, the metrics and the document', async () => {
    expect((await client.GET('/health/live')).data).toEqual({ status: 'ok' })
    expect((await client.GET('/health/ready')).response.status).toBe(200)
    const metrics = await client.GET('/metrics', { parseAs: 'text' })
    expect(metrics.response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(metrics.data).toContain('chat_http_requests_total')
    expect((await client.GET('/openapi.json')).data).toMatchObject({ openapi: '3.1.0' })
  })
})
