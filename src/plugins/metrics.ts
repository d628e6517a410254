import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import { AppError } from '../errors.js'
import { problemResponses } from '../schemas/problem.js'
import { METRICS_SECURITY } from './swagger.js'
import type { StoreHealth } from '../store/types.js'
import { StoreError } from '../store/errors.js'
import { RequestDurations } from './request-histogram.js'
import { OverloadedError } from './under-pressure.js'

export const REJECTION_REASONS = ['rate_limit', 'capacity', 'overload', 'lock_timeout', 'shutdown'] as const
export type RejectionReason = typeof REJECTION_REASONS[number]

export const metricsOptions = {
  /** Seconds; most answers take well under a millisecond, a lock wait may take up to LOCK_TIMEOUT_MS. */
  durationBuckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  prefix: 'chat_'
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry }
  }
}

let processRegistry: Registry | undefined

/**
 * Default process metrics (CPU, memory, event loop, GC) describe the process, not an app: they are
 * collected once per process, since each collection arms its own GC observer and event-loop monitor,
 * and tests build many apps.
 */
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Why a request was turned away, or undefined when it was not a rejection. */
export function rejectionReason (err: unknown, shuttingDown: boolean): RejectionReason | undefined {
  if (err instanceof StoreError) {
    if (err.code === 'busy') return 'lock_timeout'
    if (err.code === 'capacity') return 'capacity'
    return err.code === 'unavailable' && shuttingDown ? 'shutdown' : undefined
  }
  if (!(err instanceof AppError)) return (err as { statusCode?: unknown } | null)?.statusCode === 429 ? 'rate_limit' : undefined
  if (err instanceof OverloadedError) return 'overload'
  if (err.kind === 'rateLimited') return 'rate_limit'
  if (err.kind === 'unavailable' && shuttingDown) return 'shutdown'
  return undefined
}

function storeMetrics (app: FastifyInstance, registry: Registry): void {
  const { prefix } = metricsOptions
  // One health call serves every store metric of a scrape.
  let asked: Promise<StoreHealth> | undefined
  const health = async (): Promise<StoreHealth> => {
    asked ??= app.store.health().finally(() => { setImmediate(() => { asked = undefined }) })
    return await asked
  }
  const gauge = (name: string, help: string, read: (h: StoreHealth) => number): void => {
    new Gauge({ name: `${prefix}${name}`, help, registers: [registry], async collect () { this.set(read(await health())) } })
  }
  const counter = (name: string, help: string, read: (h: StoreHealth) => number): void => {
    new Counter({ name: `${prefix}${name}`, help, registers: [registry], async collect () { const value = read(await health()); this.reset(); this.inc(value) } })
  }
  gauge('store_items', 'Chats in the store.', (h) => h.items)
  gauge('store_max_items', 'The most chats the store holds (MAX_ITEMS).', (h) => h.maxItems)
  gauge('store_bytes', 'Estimated bytes of the chats in the store, as the memory guard counts them (0 where the backend does not count).', (h) => h.bytes ?? 0)
  gauge('store_max_bytes', 'The memory guard\'s budget (MAX_STORE_BYTES; 0: off).', (h) => h.maxBytes ?? 0)
  gauge('store_read_only', 'Durable store: 1 while it refuses writes after a failed append or sync, else 0.', (h) => h.readOnly ? 1 : 0)
  gauge('store_recovering', 'Durable store: 1 while it loads its data at start, else 0.', (h) => h.recovering ? 1 : 0)
  counter('store_lock_waits_total', 'Store lock acquisitions that had to wait.', (h) => h.lock?.waits ?? 0)
  counter('store_lock_wait_seconds_total', 'Total time spent waiting for the store lock.', (h) => (h.lock?.waitMs ?? 0) / 1000)
  counter('store_lock_timeouts_total', 'Store lock waits that timed out (answered 503).', (h) => h.lock?.timeouts ?? 0)
}

/**
 * Prometheus metrics at GET /metrics: requests and their latency by route pattern and status,
 * the store against its limits, lock waits and timeouts, rejections by reason, and the
 * default process metrics. One registry per app; one onResponse hook per request.
 */
export default fp(async (app) => {
  const registry = new Registry()
  const { prefix, durationBuckets } = metricsOptions
  const duration = new RequestDurations(`${prefix}http_request_duration_seconds`, 'Time to answer HTTP requests.', durationBuckets)
  // prom-client's registry takes any metric with its shape (a name, help, type and `get()`); its types list only its own classes.
  registry.registerMetric(duration as unknown as Metric)
  // The request count is the histogram's count by labels, copied at scrape time: a request costs one observation, not two.
  new Counter({
    name: `${prefix}http_requests_total`,
    help: 'HTTP requests answered.',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
    collect () {
      this.reset()
      for (const { labels, count } of duration.series()) this.inc(labels, count)
    }
  })
  const rejections = new Counter({ name: `${prefix}rejections_total`, help: 'Requests turned away, by reason.', labelNames: ['reason'], registers: [registry] })
  for (const reason of REJECTION_REASONS) rejections.inc({ reason }, 0)
  storeMetrics(app, registry)

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    duration.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
  app.addHook('onError', (_request: FastifyRequest, _reply: FastifyReply, err: FastifyError, done: () => void) => {
    const reason = rejectionReason(err, app.lifecycle.shuttingDown)
    if (reason !== undefined) rejections.inc({ reason })
    done()
  })

  const scraped = Registry.merge([processMetrics(), registry])
  app.decorate('metrics', { registry })
  app.get('/metrics', {
    config: { rateLimit: false },
    schema: {
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      description: 'Requests and latency by route and status, the store against its limits, lock waits, rejections by reason, process metrics. With METRICS_TOKEN set, it asks for `Authorization: Bearer <METRICS_TOKEN>`.',
      tags: ['metrics'],
      security: METRICS_SECURITY,
      response: {
        200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } },
        // 503 while shutting down (src/app.ts); overload shedding exempts /metrics.
        ...problemResponses('unauthorized', 'unavailable', 'internal')
      }
    }
  }, async (_request, reply) => {
    const text = await scraped.metrics()
    reply.type(scraped.contentType)
    return text
  })
}, { name: 'metrics', dependencies: ['store'] })
