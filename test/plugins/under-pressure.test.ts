import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { OverloadedError, underPressureOptions } from '../../src/plugins/under-pressure.js'
import { loadConfig } from '../../src/config.js'
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
    expect(server.store.stats().items).toBe(0)

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

  it('does not count the start\'s event-loop delay as load, and counts it from two sample intervals after the store has loaded', async () => {
    const busy = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end);/* the event loop blocked */ }
    const ready = async (): Promise<number> => (await server.inject({ method: 'GET', url: '/health/ready' })).statusCode
    // The sample after a block longer than its interval reads a mean delay of at least about 20 ms
    // (the block, and at most an interval's worth of 10-ms ticks before it), over 5 ms.
    const config = { PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 5, PRESSURE_SAMPLE_INTERVAL_MS: 500 }
    app = await build(config)
    const server = app
    const loaded = performance.now()
    // Recovery's last step blocking the loop, as a million chats do: the sample taken just after
    // it (the timer was due meanwhile) measures it, and would keep the app under pressure.
    busy(600)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(server.isUnderPressure()).toBe(true)
    expect(performance.now() - loaded).toBeLessThan(2 * config.PRESSURE_SAMPLE_INTERVAL_MS)
    expect(await ready()).toBe(200)

    // Past the grace, a blocked loop is load again.
    await new Promise((resolve) => setTimeout(resolve, 2 * config.PRESSURE_SAMPLE_INTERVAL_MS))
    busy(600)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(server.isUnderPressure()).toBe(true)
    expect(await ready()).toBe(503)
  })

  it('takes its thresholds from the configuration, event-loop delay on by default', () => {
    const options = underPressureOptions(loadConfig({}))
    expect(options).toMatchObject({ maxEventLoopDelay: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0, sampleInterval: 1000 })
    expect(underPressureOptions(loadConfig({ PRESSURE_MAX_RSS_BYTES: '1000000' })).maxRssBytes).toBe(1_000_000)
    expect(new OverloadedError('heapUsedBytes')).toMatchObject({ kind: 'unavailable', status: 503, retryAfter: 5 })
  })
})
