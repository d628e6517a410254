import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { ChangeEvent, ChangePage, Chat } from '../../src/store/types.js'
import { build, jsonHeaders } from '../helper.js'
import { removeTempDirs, tempDir } from '../store/durable/helpers.js'
import { SseClient } from '../support/sse.js'

const apps: FastifyInstance[] = []
const clients: SseClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const app of apps.splice(0)) await app.close()
})
afterAll(removeTempDirs)

async function start (...args: Parameters<typeof build>): Promise<FastifyInstance> {
  const app = await build(...args)
  apps.push(app)
  return app
}

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

async function sse (url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.connect(url, headers)
  clients.push(client)
  return client
}

const create = async (app: FastifyInstance, title: string, headers: Record<string, string> = {}): Promise<Chat> =>
  (await app.inject({ method: 'POST', url: '/chats', headers: { ...jsonHeaders, ...headers }, payload: { title } })).json<Chat>()

async function allChanges (app: FastifyInstance, after?: string, headers: Record<string, string> = {}): Promise<ChangeEvent[]> {
  const res = await app.inject({ url: `/changes?limit=1000${after === undefined ? '' : `&after=${after}`}`, headers })
  expect(res.statusCode).toBe(200)
  return res.json<ChangePage>().items
}

/** Creates, updates and deletes a few chats: answers the feed's seqs. */
async function someWrites (app: FastifyInstance, n = 3): Promise<string[]> {
  for (let i = 0; i < n; i++) {
    const chat = await create(app, `chat ${i}`)
    await app.inject({ method: 'PATCH', url: `/chats/${chat.id}`, headers: jsonHeaders, payload: { priority: 'high' } })
    if (i % 2 === 1) await app.inject({ method: 'DELETE', url: `/chats/${chat.id}` })
  }
  return (await allChanges(app)).map((c) => c.seq)
}

describe('GET /changes as pages', () => {
  it('pages the owner\'s changes by after and limit, oldest first; an expired after is a 410, a malformed one a 400', async () => {
    const app = await start({ CHANGES_RETAIN: 5 })
    const seqs = await someWrites(app, 3)
    expect(seqs).toHaveLength(5)
    const first = await app.inject({ url: '/changes?limit=2' })
    expect(first.statusCode).toBe(200)
    const page = first.json<ChangePage>()
    expect(page.items.map((c) => c.seq)).toEqual(seqs.slice(0, 2))
    expect(page.nextAfter).toBe(seqs[1])
    const rest = (await app.inject({ url: `/changes?after=${page.nextAfter}` })).json<ChangePage>()
    expect(rest.items.map((c) => c.seq)).toEqual(seqs.slice(2))
    const empty = (await app.inject({ url: `/changes?after=${rest.nextAfter}` })).json<ChangePage>()
    expect(empty).toEqual({ items: [], nextAfter: rest.nextAfter })
    // Two more changes drop the oldest two: after the first seq is now expired (after the second is not: it was the last dropped).
    await create(app, 'more')
    await create(app, 'more')
    expect((await app.inject({ url: `/changes?after=${seqs[1]!}` })).statusCode).toBe(200)
    const expired = await app.inject({ url: `/changes?after=${seqs[0]!}` })
    expect(expired.statusCode).toBe(410)
    expect(expired.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(expired.json()).toMatchObject({ type: '/problems/changes-expired', status: 410 })
    for (const query of ['after=nope', 'limit=0', 'limit=1001', 'other=1', 'after=']) {
      const bad = await app.inject({ url: `/changes?${query}` })
      expect(bad.statusCode, query).toBe(400)
      expect(bad.json()).toMatchObject({ type: '/problems/validation' })
    }
  })

  it('keeps owners apart: an owner\'s feed holds only their changes, and keys are their own', async () => {
    const dir = tempDir()
    const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
    writeFileSync(join(dir, 'keys.txt'), `alice ${sha('alice-key')}\nbob ${sha('bob-key')}\n`)
    const app = await start({ AUTH_MODE: 'api-key', API_KEYS_FILE: join(dir, 'keys.txt') })
    const alice = { 'x-api-key': 'alice-key' }
    const bob = { 'x-api-key': 'bob-key' }
    const a = await create(app, 'alice\'s', { ...alice, 'idempotency-key': 'same' })
    const b = await create(app, 'bob\'s', { ...bob, 'idempotency-key': 'same' })
    expect(b.id).not.toBe(a.id)
    expect((await allChanges(app, undefined, alice)).map((c) => c.id)).toEqual([a.id])
    expect((await allChanges(app, undefined, bob)).map((c) => c.id)).toEqual([b.id])
    expect((await app.inject({ url: `/chats/${a.id}/history`, headers: bob })).statusCode).toBe(404)
    expect((await app.inject({ url: '/changes' })).statusCode).toBe(401)
    const base = await listen(app)
    const stream = await sse(`${base}/changes`, bob)
    await stream.until(() => stream.lastEventId !== undefined)
    await create(app, 'alice again', alice)
    const mine = await create(app, 'bob again', bob)
    await stream.until(() => stream.events.length > 0)
    expect(stream.events.map((e) => (JSON.parse(e.data) as ChangeEvent).id)).toEqual([mine.id])
  })
})

describe('GET /chats/{id}/history', () => {
  it('pages the kept versions oldest first, and answers 404 once the chat is deleted', async () => {
    const app = await start({ HISTORY_VERSIONS: 3 })
    const chat = await create(app, 'v1')
    for (let i = 2; i <= 4; i++) await app.inject({ method: 'PATCH', url: `/chats/${chat.id}`, headers: jsonHeaders, payload: { title: `v${i}` } })
    const first = await app.inject({ url: `/chats/${chat.id}/history?limit=2` })
    expect(first.statusCode).toBe(200)
    const page = first.json<{ items: { version: number, type: string, chat: Chat }[], limit: number, nextCursor: string | null }>()
    expect(page.items.map((h) => [h.version, h.type, h.chat.title])).toEqual([[2, 'updated', 'v2'], [3, 'updated', 'v3']])
    expect(page.limit).toBe(2)
    const second = (await app.inject({ url: `/chats/${chat.id}/history?limit=2&cursor=${page.nextCursor!}` })).json<typeof page>()
    expect(second.items.map((h) => h.version)).toEqual([4])
    expect(second.nextCursor).toBeNull()
    expect((await app.inject({ url: `/chats/${chat.id}/history?limit=101` })).statusCode).toBe(400)
    expect((await app.inject({ url: `/chats/${chat.id}/history?cursor=x` })).statusCode).toBe(400)
    expect((await app.inject({ url: '/chats/nope/history' })).statusCode).toBe(404)
    await app.inject({ method: 'DELETE', url: `/chats/${chat.id}` })
    const gone = await app.inject({ url: `/chats/${chat.id}/history` })
    expect(gone.statusCode).toBe(404)
    expect(gone.json()).toMatchObject({ type: '/problems/not-found' })
  })
})

describe('Idempotency-Key on POST /chats', () => {
  const post = async (app: FastifyInstance, key: string | undefined, payload: string) =>
    await app.inject({ method: 'POST', url: '/chats', headers: { ...jsonHeaders, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload })

  it('answers the same body again with the kept answer and Idempotent-Replayed, whatever the formatting; another body is a 422', async () => {
    const app = await start()
    const first = await post(app, 'abc', '{"title":"Hello","priority":"high"}')
    expect(first.statusCode).toBe(201)
    expect(first.headers['idempotent-replayed']).toBeUndefined()
    await app.inject({ method: 'PATCH', url: first.headers.location!, headers: jsonHeaders, payload: { title: 'changed' } })
    const again = await post(app, '"abc"', '{ "priority": "high",\n  "title": "Hello" }')
    expect(again.statusCode).toBe(201)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.body).toBe(first.body)
    expect(again.headers.location).toBe(first.headers.location)
    expect(again.headers.etag).toBe(first.headers.etag)
    await app.inject({ method: 'DELETE', url: first.headers.location! })
    expect((await post(app, 'abc', '{"title":"Hello","priority":"high"}')).headers['idempotent-replayed']).toBe('true')
    const reused = await post(app, 'abc', '{"title":"Hello"}')
    expect(reused.statusCode).toBe(422)
    expect(reused.json()).toMatchObject({ type: '/problems/idempotency-key-reused', status: 422 })
    for (const key of ['', 'x'.repeat(256), 'é', '"quoted é"', 'tab\there']) {
      const bad = await post(app, key, '{"title":"x"}')
      expect(bad.statusCode, JSON.stringify(key)).toBe(400)
      expect(bad.json()).toMatchObject({ type: '/problems/validation', errors: [{ in: 'headers', path: '/idempotency-key' }] })
    }
    expect((await post(app, 'x'.repeat(255), '{"title":"x"}')).statusCode).toBe(201)
    // A 400 keeps nothing: the key is still free.
    expect((await post(app, 'later', '{"title":" "}')).statusCode).toBe(400)
    expect((await post(app, 'later', '{"title":"fine"}')).headers['idempotent-replayed']).toBeUndefined()
  })

  it('makes one chat of 10 identical requests at once: the others get the same answer or a 409 with Retry-After', async () => {
    const app = await start({ DATA_DIR: tempDir(), FSYNC: 'always' })
    await app.storeRecovery
    const answers = await Promise.all(Array.from({ length: 10 }, async () => await post(app, 'once', '{"title":"one"}')))
    const created = answers.filter((a) => a.statusCode === 201)
    const inFlight = answers.filter((a) => a.statusCode === 409)
    expect(created.length + inFlight.length).toBe(10)
    expect(new Set(created.map((a) => a.json<Chat>().id)).size).toBe(1)
    expect(created.filter((a) => a.headers['idempotent-replayed'] === undefined)).toHaveLength(1)
    for (const a of inFlight) {
      expect(a.json()).toMatchObject({ type: '/problems/idempotency-key-in-flight', status: 409 })
      expect(Number(a.headers['retry-after'])).toBeGreaterThan(0)
    }
    expect(inFlight.length).toBeGreaterThan(0)
    expect((await app.inject({ url: '/chats' })).json()).toMatchObject({ total: 1 })
  })

  it('keeps no answer that says try again: after a 507 the same key creates', async () => {
    const app = await start({ MAX_ITEMS: 1 })
    const full = await create(app, 'full')
    expect((await post(app, 'k', '{"title":"wanted"}')).statusCode).toBe(507)
    await app.inject({ method: 'DELETE', url: `/chats/${full.id}` })
    const made = await post(app, 'k', '{"title":"wanted"}')
    expect(made.statusCode).toBe(201)
    expect(made.headers['idempotent-replayed']).toBeUndefined()
  })
})

describe('GET /changes as an event stream, over real sockets', () => {
  it('resumes after Last-Event-ID at every position with exactly the rest, then goes on live', async () => {
    const app = await start()
    const base = await listen(app)
    const seqs = await someWrites(app, 4)
    for (const from of seqs) {
      const stream = await sse(`${base}/changes`, { 'last-event-id': from })
      expect(stream.status).toBe(200)
      expect(stream.response.headers['content-type']).toMatch(/^text\/event-stream/)
      const live = await create(app, `live after ${from}`)
      const expected = await allChanges(app, from)
      await stream.untilEvent(expected.at(-1)!.seq)
      expect(expected.at(-1)!.id).toBe(live.id)
      expect(stream.events.map((e) => e.id)).toEqual(expected.map((c) => c.seq))
      expect(stream.events.map((e) => JSON.parse(e.data) as ChangeEvent)).toEqual(expected)
      expect(stream.events.map((e) => e.event)).toEqual(expected.map((c) => c.type))
      stream.close()
    }
    // `after` works as Last-Event-ID does; Last-Event-ID wins over it.
    const byAfter = await sse(`${base}/changes?after=${seqs.at(-2)!}`)
    await byAfter.untilEvent(seqs.at(-1)!)
    expect(byAfter.events[0]!.id).toBe(seqs.at(-1))
    const both = await sse(`${base}/changes?after=${seqs[0]!}`, { 'last-event-id': seqs.at(-2)! })
    await both.untilEvent(seqs.at(-1)!)
    expect(both.events[0]!.id).toBe(seqs.at(-1))
  })

  it('starts from now without a position, giving that position as its id, so that a reconnect misses nothing', async () => {
    const app = await start()
    const base = await listen(app)
    await someWrites(app, 2)
    const stream = await sse(`${base}/changes`)
    await stream.until(() => stream.lastEventId !== undefined)
    expect(stream.events).toEqual([])
    stream.close()
    const missed = await create(app, 'while away')
    const again = await sse(`${base}/changes`, { 'last-event-id': stream.lastEventId! })
    await again.until(() => again.events.length > 0)
    expect((JSON.parse(again.events[0]!.data) as ChangeEvent).id).toBe(missed.id)
  })

  it('loses no change across a restart with DATA_DIR: the reconnect gets those made before and after it', async () => {
    const dir = tempDir()
    const first = await start({ DATA_DIR: dir })
    await first.storeRecovery
    const base = await listen(first)
    const stream = await sse(`${base}/changes`)
    await stream.until(() => stream.lastEventId !== undefined)
    for (let i = 0; i < 3; i++) await create(first, `seen ${i}`)
    await stream.until(() => stream.events.length === 3)
    stream.close()
    for (let i = 0; i < 2; i++) await create(first, `unseen ${i}`)
    // Closing the app ends any stream still open: close does not wait for clients.
    const other = await sse(`${base}/changes`)
    await other.until(() => other.lastEventId !== undefined)
    await first.close()
    apps.splice(apps.indexOf(first), 1)
    await other.until(() => other.ended)

    const second = await start({ DATA_DIR: dir })
    await second.storeRecovery
    const base2 = await listen(second)
    for (let i = 0; i < 2; i++) await create(second, `after ${i}`)
    const resumed = await sse(`${base2}/changes`, { 'last-event-id': stream.lastEventId! })
    const expected = await allChanges(second, stream.lastEventId)
    expect(expected.map((c) => c.chat?.title)).toEqual(['unseen 0', 'unseen 1', 'after 0', 'after 1'])
    await resumed.untilEvent(expected.at(-1)!.seq)
    expect(resumed.events.map((e) => e.id)).toEqual(expected.map((c) => c.seq))
  })

  it('sends a heartbeat comment on the configured interval', async () => {
    const app = await start({}, { changeStreams: { heartbeatMs: 40 } })
    const stream = await sse(`${await listen(app)}/changes`)
    await stream.until(() => stream.comments.filter((c) => c === 'heartbeat').length >= 3, 5000)
  })

  it('answers an expired Last-Event-ID with a 410 problem, not a stream', async () => {
    const app = await start()
    const stream = await sse(`${await listen(app)}/changes`, { 'last-event-id': '0000000000000001' })
    expect(stream.status).toBe(410)
    expect(JSON.parse(await stream.body!)).toMatchObject({ type: '/problems/changes-expired' })
  })

  it('disconnects a client that does not read rather than buffer without bound', async () => {
    const app = await start({ MAX_STORE_BYTES: 0, MAX_ITEMS: 1_000_000 }, { changeStreams: { maxBufferedBytes: 64 * 1024 } })
    const base = new URL(await listen(app))
    const socket = connect(Number(base.port), base.hostname)
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`GET /changes HTTP/1.1\r\nHost: ${base.host}\r\nAccept: text/event-stream\r\n\r\n`)
    socket.pause()
    const closed = new Promise((resolve) => socket.once('close', resolve))
    const deadline = Date.now() + 20_000
    while (app.changeStreams.size === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const description = 'd'.repeat(2000)
    for (let i = 0; app.changeStreams.size > 0; i++) {
      if (Date.now() > deadline) throw new Error('the slow client was never cut')
      await app.store.create('default', { title: `big ${i}`, description })
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    socket.resume()
    await closed
    // Another client is served as usual.
    const fine = await sse(`${base.origin}/changes`)
    expect(fine.status).toBe(200)
  })

  it('holds at most CHANGES_MAX_STREAMS open: past it a 503 with Retry-After, room again once one closes', async () => {
    const app = await start({ CHANGES_MAX_STREAMS: 2 })
    const base = await listen(app)
    const a = await sse(`${base}/changes`)
    await sse(`${base}/changes`)
    const refused = await sse(`${base}/changes`)
    expect(refused.status).toBe(503)
    expect(refused.response.headers['retry-after']).toBeDefined()
    expect(JSON.parse(await refused.body!)).toMatchObject({ type: '/problems/unavailable' })
    // Pages are no stream: they are served.
    expect((await app.inject({ url: '/changes' })).statusCode).toBe(200)
    a.close()
    const deadline = Date.now() + 5000
    while (app.changeStreams.size >= 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    expect((await sse(`${base}/changes`)).status).toBe(200)
  })
})
