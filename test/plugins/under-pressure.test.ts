import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import underPressurePlugin, { OverloadedError, underPressureOptions } from '../../src/plugins/under-pressure.js'
import { loadConfig, type Config } from '../../src/config.js'
import { build, jsonHeaders } from '../helper.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close(); app = undefined })

describe('graceful degradation under pressure', () => {
  it('past a threshold answers 503 problems with Retry-After, readiness included, but keeps liveness and metrics', async () => {
    // Any heap is over one byte: the first sample puts the app under pressure.
    app = await build({ PRESSURE_MAX_HEAP_USED_BYTES: 1, PRESSURE_SAMPLE_INTERVAL_MS: 100 })
    const server = app
    await vi.waitFor(() => { expect(server.isUnderPressure()).toBe(true) }, { timeout: 5000, interval: 10 })

    for (const request of [
      { method: 'GET' as const, url: '/chats' },
      { method: 'POST' as const, url: '/chats', headers: jsonHeaders, payload: { title: 'x' } },
      { method: 'GET' as const, url: '/health/ready' },
      { method: 'GET' as const, url: '/no/such/route' }
    ]) {
      const res = await server.inject(request)
      expect(res.statusCode, request.url).toBe(503)
      expect(res.headers['retry-after']).toBe('5')
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ type: '/problems/unavailable', status: 503, detail: expect.stringContaining('overloaded') as unknown })
    }
    expect((await server.store.health()).items).toBe(0)

    expect((await server.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200)
    const metrics = await server.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.statusCode).toBe(200)
    expect(metrics.body).toContain('chat_rejections_total{reason="overload"} 4')
  })

  it('serves normally below the thresholds', async () => {
    app = await build({ PRESSURE_MAX_HEAP_USED_BYTES: 64 * 1024 ** 4, PRESSURE_MAX_RSS_BYTES: 64 * 1024 ** 4, PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 60_000, PRESSURE_SAMPLE_INTERVAL_MS: 100 })
    const server = app
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect(server.isUnderPressure()).toBe(false)
    expect((await server.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200)
    expect((await server.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'x' } })).statusCode).toBe(201)
  })

  it('takes its thresholds from the configuration, event-loop delay on by default', () => {
    const options = underPressureOptions(loadConfig({}))
    expect(options).toMatchObject({ maxEventLoopDelay: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0, sampleInterval: 1000 })
    expect(underPressureOptions(loadConfig({ PRESSURE_MAX_RSS_BYTES: '1000000' })).maxRssBytes).toBe(1_000_000)
    expect(new OverloadedError('heapUsedBytes')).toMatchObject({ kind: 'unavailable', status: 503, retryAfter: 5 })
  })
})

describe('the start\'s grace', () => {
  // A delay over 5 ms is pressure; the grace lasts two 100-ms intervals after recovery ends.
  const config = loadConfig({}, { PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 5, PRESSURE_SAMPLE_INTERVAL_MS: 100 })
  const graceMs = 2 * config.PRESSURE_SAMPLE_INTERVAL_MS
  const busy = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end);/* the event loop blocked */ }

  /**
   * The plugin in a bare app with one route: with a store recovery the test ends (`end`), or, when
   * `recovering` is false, with no store at all.
   */
  async function bareApp (options: { config?: Config, recovering?: boolean } = {}): Promise<{ server: FastifyInstance, end: (ok: boolean) => void }> {
    const server = Fastify()
    let end: (ok: boolean) => void = () => undefined
    if (options.recovering !== false) {
      const recovery = new Promise<void>((resolve, reject) => { end = (ok) => { if (ok) resolve(); else reject(new Error('the data directory is damaged')) } })
      recovery.catch(() => undefined)
      server.decorate('storeRecovery', recovery)
    }
    await server.register(underPressurePlugin, { config: options.config ?? config })
    server.setErrorHandler((err: Error, _request, reply) => { void reply.code(err instanceof OverloadedError ? 503 : 500).send({ error: err.message }) })
    server.get('/chats', async () => ({ items: [] }))
    await server.ready()
    app = server
    return { server, end }
  }

  /** Blocks the loop (as recovery's steps do) until a delay sample over the threshold holds. */
  async function blockUntilMeasured (server: FastifyInstance): Promise<void> {
    for (let tries = 0; tries < 5; tries++) {
      busy(150)
      for (let waited = 0; waited < 300; waited += 10) {
        if (delayOver(server)) return
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    throw new Error('no delay sample measured the blocked loop')
  }
  const status = async (server: FastifyInstance): Promise<number> => (await server.inject({ method: 'GET', url: '/chats' })).statusCode
  const delayOver = (server: FastifyInstance): boolean => server.memoryUsage().eventLoopDelay > config.PRESSURE_MAX_EVENT_LOOP_DELAY_MS
  /** A request's status while a sample over the threshold holds (again if the sample changed meanwhile). */
  async function statusUnderDelay (server: FastifyInstance): Promise<number> {
    for (;;) {
      await blockUntilMeasured(server)
      const answer = await status(server)
      if (delayOver(server)) return answer
    }
  }

  it.each([true, false])('lets a delay pass while the store recovers and for two intervals after (recovery succeeds: %s), then counts it', async (succeeds) => {
    const { server, end } = await bareApp()
    // Recovering: a blocked loop is recovery's work, not load.
    expect(await statusUnderDelay(server)).toBe(200)

    // Just after recovery ends, the sample that measured its last step still holds: not load either.
    await blockUntilMeasured(server)
    end(succeeds)
    for (let i = 0; i < 3; i++) await Promise.resolve() // the grace starts as recovery settles
    expect(delayOver(server)).toBe(true)
    expect(await status(server)).toBe(200)

    // Past the grace, a blocked loop is load.
    await new Promise((resolve) => setTimeout(resolve, graceMs + 20))
    expect(await statusUnderDelay(server)).toBe(503)
  })

  it('still refuses past the heap threshold while it lets a delay pass', async () => {
    const { server } = await bareApp({ config: { ...config, PRESSURE_MAX_HEAP_USED_BYTES: 1 } })
    await blockUntilMeasured(server)
    const res = await server.inject({ method: 'GET', url: '/chats' })
    expect(delayOver(server)).toBe(true)
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ error: expect.stringContaining('heapUsedBytes') as unknown })
  })

  it('starts the grace when the app is ready if no store says when it recovers', async () => {
    const { server } = await bareApp({ recovering: false })
    await new Promise((resolve) => setTimeout(resolve, graceMs + 20))
    expect(await statusUnderDelay(server)).toBe(503)
  })
})
