import { afterEach, describe, expect, it } from 'vitest'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { RequestLogController } from '../src/request-log.js'

/** The per-request log: one info line when the answer is sent, none on arrival. */
describe('request logging', () => {
  let app: FastifyInstance | undefined
  afterEach(async () => { await app?.close() })

  async function appLoggingTo (lines: Record<string, unknown>[], level = 'info'): Promise<FastifyInstance> {
    const config = loadConfig({}, { NODE_ENV: 'test', LOG_LEVEL: 'info' })
    return await buildApp({ config, logger: { level, stream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } } })
  }

  it('writes one "request completed" line a request, with method, URL, status, time and request id', async () => {
    const lines: Record<string, unknown>[] = []
    app = await appLoggingTo(lines)
    const res = await app.inject({ method: 'POST', url: '/chats', headers: { 'x-request-id': 'log-1' }, payload: { title: 'Logged' } })
    expect(res.statusCode).toBe(201)
    const about = lines.filter((l) => l.reqId === 'log-1')
    expect(about).toHaveLength(1)
    expect(about[0]).toMatchObject({ level: 30, msg: 'request completed', method: 'POST', url: '/chats', statusCode: 201, reqId: 'log-1' })
    expect(typeof about[0]!.responseTime).toBe('number')
    expect(lines.some((l) => l.msg === 'incoming request')).toBe(false)
  })

  it('logs refused requests too, with their status', async () => {
    const lines: Record<string, unknown>[] = []
    app = await appLoggingTo(lines)
    const res = await app.inject({ method: 'GET', url: '/chats/nope', headers: { 'x-request-id': 'log-2' } })
    expect(res.statusCode).toBe(404)
    expect(lines.filter((l) => l.reqId === 'log-2' && l.msg === 'request completed')).toEqual([
      expect.objectContaining({ method: 'GET', url: '/chats/nope', statusCode: 404 })
    ])
  })

  it('writes nothing a request above info', async () => {
    const lines: Record<string, unknown>[] = []
    app = await appLoggingTo(lines, 'warn')
    await app.inject({ method: 'GET', url: '/health/live' })
    expect(lines).toEqual([])
  })

  it('logs a failed answer at error, with the error', async () => {
    const lines: Record<string, unknown>[] = []
    const controller = new RequestLogController()
    app = Fastify({ logController: controller, logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } } })
    app.get('/test/errored', async (request, reply) => {
      controller.requestCompleted(new Error('socket gone'), request, reply)
      return { ok: true }
    })
    await app.inject({ method: 'GET', url: '/test/errored' })
    expect(lines.find((l) => l.msg === 'request errored')).toMatchObject({ level: 50, method: 'GET', url: '/test/errored', err: { message: 'socket gone' } })
  })
})
