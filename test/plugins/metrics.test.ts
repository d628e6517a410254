import type { FastifyInstance } from 'fastify'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterEach, describe, expect, it } from 'vitest'
import type { Config } from '../../src/config.js'
import { rejectionReason } from '../../src/plugins/metrics.js'
import { AppError } from '../../src/errors.js'
import { estimateBytes } from '../../src/store/memory/memory-store.js'
import { build, jsonHeaders } from '../helper.js'

const apps: FastifyInstance[] = []
async function make (overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  const app = await build(overrides)
  apps.push(app)
  return app
}
afterEach(async () => { await Promise.all(apps.splice(0).map(async (app) => { await app.close() })) })

type Families = ReturnType<typeof parsePrometheusTextFormat>

async function scrapeText (app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  expect(res.statusCode).toBe(200)
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
  return res.body
}

async function scrape (app: FastifyInstance): Promise<Families> {
  return parsePrometheusTextFormat(await scrapeText(app))
}

/** The value of one sample, found by family name and labels; 0 when absent (a counter never incremented). */
function valueOf (families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name)
  expect(family, name).toBeDefined()
  const sample = family!.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return Number(sample?.value ?? 0)
}

describe('GET /metrics', () => {
  it('parses as Prometheus text, with the app\'s families and the default process metrics', async () => {
    const families = await scrape(await make())
    const types = Object.fromEntries(families.map((f) => [f.name, f.type]))
    expect(types).toMatchObject({
      chat_http_requests_total: 'COUNTER',
      chat_http_request_duration_seconds: 'HISTOGRAM',
      chat_rejections_total: 'COUNTER',
      chat_store_items: 'GAUGE',
      chat_store_max_items: 'GAUGE',
      chat_store_bytes: 'GAUGE',
      chat_store_max_bytes: 'GAUGE',
      chat_store_lock_waits_total: 'COUNTER',
      chat_store_lock_wait_seconds_total: 'COUNTER',
      chat_store_lock_timeouts_total: 'COUNTER',
      process_cpu_user_seconds_total: 'COUNTER',
      nodejs_heap_size_used_bytes: 'GAUGE',
      nodejs_eventloop_lag_seconds: 'GAUGE'
    })
    for (const reason of ['rate_limit', 'capacity', 'overload', 'lock_timeout', 'shutdown']) {
      expect(valueOf(families, 'chat_rejections_total', { reason })).toBe(0)
    }
  })

  it('moves with requests: counts by route pattern and status, latency, the store against its budget', async () => {
    const app = await make({ MAX_STORE_BYTES: 100_000 })
    const before = await scrape(app)
    const created = await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'Metered', description: 'abc' } })
    const id = created.json<{ id: string }>().id
    await app.inject({ method: 'GET', url: `/chats/${id}` })
    await app.inject({ method: 'GET', url: `/chats/${id}` })
    await app.inject({ method: 'GET', url: '/chats/unknown' })
    await app.inject({ method: 'GET', url: '/no/such/route' })
    const after = await scrape(app)

    const requests = (route: string, status: string, method = 'GET'): number =>
      valueOf(after, 'chat_http_requests_total', { method, route, status_code: status }) -
      valueOf(before, 'chat_http_requests_total', { method, route, status_code: status })
    expect(requests('/chats', '201', 'POST')).toBe(1)
    expect(requests('/chats/:id', '200')).toBe(2)
    expect(requests('/chats/:id', '404')).toBe(1)
    expect(requests('unmatched', '404')).toBe(1)
    // Labels use the route's pattern, never the raw URL.
    const routes = after.find((f) => f.name === 'chat_http_requests_total')!.metrics.map((m) => m.labels?.route)
    expect(routes).not.toContain(`/chats/${id}`)

    // The parser folds labelled histograms into one sample, so the latency series are read from the text.
    const text = await scrapeText(app)
    expect(text).toContain('chat_http_request_duration_seconds_count{method="GET",route="/chats/:id",status_code="200"} 2')
    expect(text).toContain('chat_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/chats/:id",status_code="200"} 2')
    expect(text).toMatch(/^chat_http_request_duration_seconds_sum\{method="POST",route="\/chats",status_code="201"\} \d/m)

    expect(valueOf(after, 'chat_store_items')).toBe(1)
    expect(valueOf(after, 'chat_store_bytes')).toBe(estimateBytes('Metered', 'abc'))
    expect(valueOf(after, 'chat_store_max_bytes')).toBe(100_000)
    expect(valueOf(after, 'chat_store_max_items')).toBe(10_000)
  })

  it('counts rejections by reason', async () => {
    const app = await make({ MAX_ITEMS: 1, RATE_LIMIT_WRITE_MAX: 3 })
    const create = async (): Promise<number> =>
      (await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'x' } })).statusCode
    expect([await create(), await create(), await create(), await create()]).toEqual([201, 507, 507, 429])
    const families = await scrape(app)
    expect(valueOf(families, 'chat_rejections_total', { reason: 'capacity' })).toBe(2)
    expect(valueOf(families, 'chat_rejections_total', { reason: 'rate_limit' })).toBe(1)
    expect(valueOf(families, 'chat_http_requests_total', { method: 'POST', route: '/chats', status_code: '429' })).toBe(1)
  })

  it('shows lock waits and timeouts', async () => {
    const app = await make({ LOCK_TIMEOUT_MS: 20 })
    const lock = Reflect.get(app.store.backend, 'lock') as { acquireWrite: () => unknown, releaseWrite: () => void }
    expect(lock.acquireWrite()).toBeUndefined()
    expect((await app.inject({ method: 'GET', url: '/chats' })).statusCode).toBe(503)
    lock.releaseWrite()
    const families = await scrape(app)
    expect(valueOf(families, 'chat_store_lock_timeouts_total')).toBe(1)
    expect(valueOf(families, 'chat_rejections_total', { reason: 'lock_timeout' })).toBe(1)
  })

  it('keeps one registry per app', async () => {
    const one = await make()
    const other = await make()
    await one.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'only here' } })
    expect(valueOf(await scrape(one), 'chat_store_items')).toBe(1)
    const elsewhere = await scrape(other)
    expect(valueOf(elsewhere, 'chat_store_items')).toBe(0)
    expect(valueOf(elsewhere, 'chat_http_requests_total', { method: 'POST', route: '/chats', status_code: '201' })).toBe(0)
  })

  it('names the reason of each rejection, and no reason for other errors', () => {
    expect(rejectionReason(new AppError('unavailable'), true)).toBe('shutdown')
    expect(rejectionReason(new AppError('unavailable'), false)).toBeUndefined()
    expect(rejectionReason(new AppError('notFound'), false)).toBeUndefined()
    expect(rejectionReason(Object.assign(new Error('too many'), { statusCode: 429 }), false)).toBe('rate_limit')
    expect(rejectionReason(new Error('bug'), false)).toBeUndefined()
    expect(rejectionReason(null, false)).toBeUndefined()
  })
})
