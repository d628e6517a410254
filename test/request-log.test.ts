import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import pino from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { RequestLogController, SLOW_REQUEST_MS, lazyChildLogger } from '../src/request-log.js'

type Line = Record<string, unknown>
const capture = (lines: Line[]) => ({ write: (line: string) => { lines.push(JSON.parse(line) as Line) } })

/** The per-request log: one line when the answer is sent, at info for failed or slow answers, at debug for the rest. */
describe('request logging', () => {
  let app: FastifyInstance | undefined
  afterEach(async () => { await app?.close() })

  async function appLoggingTo (lines: Line[], level: string): Promise<FastifyInstance> {
    const config = loadConfig({}, { NODE_ENV: 'test' })
    return await buildApp({ config, logger: { level, stream: capture(lines) } })
  }

  it('writes one "request completed" line a request at debug, with method, URL, status, time and request id', async () => {
    const lines: Line[] = []
    app = await appLoggingTo(lines, 'debug')
    const res = await app.inject({ method: 'POST', url: '/chats', headers: { 'x-request-id': 'log-1' }, payload: { title: 'Logged' } })
    expect(res.statusCode).toBe(201)
    // A write also logs its audit line (the contract's "Access and owners"); the request's own line is one.
    const about = lines.filter((l) => l.reqId === 'log-1' && l.msg !== 'audit')
    expect(about).toHaveLength(1)
    expect(about[0]).toMatchObject({ level: 20, msg: 'request completed', method: 'POST', url: '/chats', statusCode: 201, reqId: 'log-1' })
    expect(typeof about[0]!.responseTime).toBe('number')
    expect(lines.some((l) => l.msg === 'incoming request')).toBe(false)
  })

  it('leaves quick successes out at info, and logs refused requests with their status', async () => {
    const lines: Line[] = []
    app = await appLoggingTo(lines, 'info')
    expect((await app.inject({ method: 'POST', url: '/chats', headers: { 'x-request-id': 'log-2' }, payload: { title: 'Quiet' } })).statusCode).toBe(201)
    expect((await app.inject({ method: 'GET', url: '/chats/nope', headers: { 'x-request-id': 'log-3' } })).statusCode).toBe(404)
    // Only the write's audit line, which the contract wants at info.
    expect(lines.filter((l) => l.reqId === 'log-2')).toEqual([expect.objectContaining({ level: 30, msg: 'audit', audit: expect.objectContaining({ action: 'create', owner: 'default' }) as unknown })])
    expect(lines.filter((l) => l.reqId === 'log-3' && l.msg === 'request completed')).toEqual([
      expect.objectContaining({ level: 30, method: 'GET', url: '/chats/nope', statusCode: 404 })
    ])
  })

  it('writes nothing a request above info', async () => {
    const lines: Line[] = []
    app = await appLoggingTo(lines, 'warn')
    await app.inject({ method: 'GET', url: '/chats/nope' })
    expect(lines).toEqual([])
  })

  describe('outside the service', () => {
    const controller = new RequestLogController()
    function plainApp (lines: Line[]): FastifyInstance {
      const plain = Fastify({ logController: controller, logger: { level: 'info', stream: capture(lines) } })
      plain.get('/slow', async () => { await sleep(SLOW_REQUEST_MS + 20); return { ok: true } })
      plain.get('/errored', async (request, reply) => {
        controller.requestCompleted(new Error('socket gone'), request, reply)
        return { ok: true }
      })
      return plain
    }

    it('logs a slow success at info', async () => {
      const lines: Line[] = []
      app = plainApp(lines)
      expect((await app.inject({ method: 'GET', url: '/slow' })).statusCode).toBe(200)
      const line = lines.find((l) => l.msg === 'request completed')
      expect(line).toMatchObject({ level: 30, url: '/slow', statusCode: 200 })
      expect(line!.responseTime).toBeGreaterThanOrEqual(SLOW_REQUEST_MS)
    })

    it('logs a failed answer at error, with the error', async () => {
      const lines: Line[] = []
      app = plainApp(lines)
      await app.inject({ method: 'GET', url: '/errored' })
      expect(lines.find((l) => l.msg === 'request errored')).toMatchObject({ level: 50, method: 'GET', url: '/errored', err: { message: 'socket gone' } })
    })
  })

  describe('the per-request child logger', () => {
    it('makes pino\'s child only for a request that writes a line', async () => {
      const lines: Line[] = []
      app = await appLoggingTo(lines, 'info')
      const made = vi.spyOn(app.log, 'child')
      expect((await app.inject({ method: 'GET', url: '/chats', headers: { 'x-request-id': 'quiet' } })).statusCode).toBe(200)
      expect(made).not.toHaveBeenCalled()
      expect((await app.inject({ method: 'GET', url: '/chats/nope', headers: { 'x-request-id': 'loud' } })).statusCode).toBe(404)
      expect(made).toHaveBeenCalledTimes(1)
      expect(made).toHaveBeenCalledWith({ reqId: 'loud' })
      expect(lines.filter((l) => l.reqId === 'loud')).toHaveLength(1)
    })

    it('writes the lines pino\'s own child writes, at the levels that write', () => {
      const lazy: Line[] = []
      const eager: Line[] = []
      const lazyRoot = pino({ level: 'info', base: null, timestamp: false }, capture(lazy))
      const eagerRoot = pino({ level: 'info', base: null, timestamp: false }, capture(eager))
      const child = lazyChildLogger(lazyRoot, { reqId: 'r1' }, {})
      const own = eagerRoot.child({ reqId: 'r1' })
      for (const logger of [child, own]) {
        logger.debug('hidden')
        logger.trace({ a: 1 }, 'hidden')
        logger.info({ a: 1 }, 'shown %s', 'here')
        logger.warn('warned')
        logger.error(new Error('boom'))
        logger.fatal('fatal')
        logger.child({ sub: 2 }).info('from a grandchild')
      }
      expect(lazy.map((l) => ({ ...l, err: undefined }))).toEqual(eager.map((l) => ({ ...l, err: undefined })))
      expect(lazy.map((l) => l.msg)).toEqual(['shown here', 'warned', 'boom', 'fatal', 'from a grandchild'])
      expect(lazy.every((l) => l.reqId === 'r1')).toBe(true)
    })

    it('follows the parent\'s level until given one of its own', () => {
      const lines: Line[] = []
      const root = pino({ level: 'info' }, capture(lines))
      const child = lazyChildLogger(root, { reqId: 'r2' }, {})
      expect(child.level).toBe('info')
      root.level = 'debug'
      expect(child.level).toBe('debug')
      child.debug('now shown')
      child.level = 'error'
      expect(child.level).toBe('error')
      expect(root.level).toBe('debug')
      child.warn('not shown')
      expect(lines.map((l) => l.msg)).toEqual(['now shown'])
    })

    it('gives pino\'s child at once to a route with a level of its own, and to a logger without levels', () => {
      const root = pino({ level: 'info' }, capture([]))
      const made = vi.spyOn(root, 'child')
      const child = lazyChildLogger(root, { reqId: 'r3' }, { level: 'debug' })
      expect(made).toHaveBeenCalledWith({ reqId: 'r3' }, { level: 'debug' })
      expect(child.level).toBe('debug')
      const plain = { level: 'info', info () {}, error () {}, debug () {}, fatal () {}, warn () {}, trace () {}, silent () {}, child () { return plain } }
      expect(lazyChildLogger(plain, { reqId: 'r4' }, {})).toBe(plain)
    })
  })
})
