import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { mismatches, outsideContract, takeMismatches, type Answer } from './responses.js'

const chat = { id: '01a2189f-0888-75e0-a32f-e67fcc63d27b', title: 'Project update', description: '', priority: 'high', isActive: true, createdAt: '2026-11-26T16:10:05.319Z', updatedAt: '2026-11-26T16:10:05.319Z', version: 1 }
const ok: Answer = {
  method: 'GET',
  path: '/chats/{id}',
  url: `/chats/${chat.id}`,
  status: 200,
  headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': '200', etag: '"1"', 'x-request-id': 'r-1', 'x-content-type-options': 'nosniff', 'ratelimit-limit': 5 },
  body: JSON.stringify(chat)
}

/** The checker of every test's answers (test/setup.ts) finds each kind of mismatch. */
describe('the response checker', () => {
  it('passes an answer the document describes', () => {
    expect(mismatches(ok)).toEqual([])
    expect(mismatches({ ...ok, status: 304, headers: { etag: '"1"', 'x-request-id': 'r-1', 'x-content-type-options': 'nosniff' }, body: undefined })).toEqual([])
  })

  it('finds an undeclared status, header, media type, body and content', () => {
    expect(mismatches({ ...ok, status: 418 })).toEqual([expect.stringContaining('status 418 is not declared')])
    expect(mismatches({ ...ok, headers: { ...ok.headers, 'x-powered-by': 'me' } })).toEqual([expect.stringContaining('header x-powered-by is not declared')])
    expect(mismatches({ ...ok, headers: { ...ok.headers, etag: undefined } })).toEqual([expect.stringContaining('required header ETag is missing')])
    expect(mismatches({ ...ok, headers: { ...ok.headers, 'ratelimit-limit': 'many' } })).toEqual([expect.stringContaining('header ratelimit-limit')])
    expect(mismatches({ ...ok, headers: { ...ok.headers, 'content-type': 'text/html' } })).toEqual([expect.stringContaining('media type text/html is not declared')])
    expect(mismatches({ ...ok, body: JSON.stringify({ ...chat, version: 0 }) })).toEqual([expect.stringContaining('body data/version must be >= 1')])
    expect(mismatches({ ...ok, body: '{' })).toEqual([expect.stringContaining('is not JSON')])
    const problem = { ...ok, status: 404, headers: { ...ok.headers, etag: undefined, 'content-type': 'application/problem+json' } }
    expect(mismatches({ ...problem, body: JSON.stringify({ type: '/problems/not-found', title: 'Not found', status: 404 }) })).toEqual([])
    expect(mismatches({ ...problem, body: JSON.stringify({ type: '/problems/validation', title: 'Not found', status: 404 }) })).toEqual([expect.stringContaining('body data/type must be equal to one of the allowed values')])
    expect(mismatches({ ...problem, body: JSON.stringify({ type: '/problems/not-found', title: 'Not found', status: 400 }) })).toEqual([expect.stringContaining('body data/status must be equal to one of the allowed values')])
    // The 304: a body (or a media type) where the document declares no content.
    expect(mismatches({ ...ok, status: 304, body: '{}' })).toEqual([expect.stringContaining('declares no content')])
  })

  it('finds an operation the document lacks, and checks an answer with no route as a Problem', () => {
    expect(mismatches({ ...ok, method: 'POST' })).toEqual([expect.stringContaining('no operation POST /chats/{id}')])
    const notFound = { method: 'GET', path: undefined, url: '/nope', status: 404, headers: { 'content-type': 'application/problem+json' } }
    expect(mismatches({ ...notFound, body: JSON.stringify({ type: '/problems/not-found', title: 'Not found', status: 404 }) })).toEqual([])
    expect(mismatches({ ...notFound, body: JSON.stringify({ message: 'Not found' }) })).toEqual([expect.stringContaining('must have required property')])
    expect(mismatches({ ...notFound, headers: { 'content-type': 'application/json' }, body: '{}' })).toEqual([expect.stringContaining('not application/problem+json')])
  })

  it('is hooked into every app a test makes (test/setup.ts), and reports its answers after the test', async () => {
    // An app that passes for the service (it has `lifecycle`) and answers outside the document.
    const app = Fastify()
    app.decorate('lifecycle', { shuttingDown: false })
    app.get('/chats/:id', async (_request, reply) => { void reply.header('x-request-id', 'r'); return { id: 1 } })
    await app.inject({ url: '/chats/a' })
    await outsideContract(async () => await app.inject({ url: '/chats/b' }))
    expect(takeMismatches()).toEqual([
      expect.stringMatching(/^the response checker > is hooked .*: GET \/chats\/a → 200: required header ETag is missing$/),
      expect.stringContaining('GET /chats/a → 200: required header X-Content-Type-Options is missing'),
      expect.stringContaining('GET /chats/a → 200: body data must have required property')
    ])
    await app.close()
  })
})
