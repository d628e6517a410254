import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'

/** Answered even under pressure: liveness (the process is up) and the metrics that show the pressure. */
const EXEMPT_ROUTES = new Set(['/health/live', '/metrics'])

/** Over a threshold: a 503 at once, rather than slowing every request down. */
export class OverloadedError extends AppError {
  constructor (measure: string) {
    super('unavailable', `The service is overloaded (${measure}); try again shortly`, { retryAfter: 5 })
    this.name = 'OverloadedError'
  }
}

/**
 * The options for @fastify/under-pressure. `delayCounts` tells whether the event loop's delay is
 * load at this moment (see the start's grace below). When it is not, a delay over its threshold
 * lets the request through, unless the heap or RSS is over its own: the plugin stops at the first
 * measure over, so the handler checks those two itself.
 */
export function underPressureOptions (config: Config, delayCounts: () => boolean = () => true): FastifyUnderPressureOptions {
  const { PRESSURE_MAX_HEAP_USED_BYTES: maxHeap, PRESSURE_MAX_RSS_BYTES: maxRss } = config
  return {
    maxEventLoopDelay: config.PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: maxHeap,
    maxRssBytes: maxRss,
    sampleInterval: config.PRESSURE_SAMPLE_INTERVAL_MS,
    pressureHandler: async (request, _reply, measure) => {
      if (request.routeOptions.url !== undefined && EXEMPT_ROUTES.has(request.routeOptions.url)) return
      if (measure === 'eventLoopDelay' && !delayCounts()) {
        const { heapUsed, rssBytes } = request.server.memoryUsage()
        if (maxHeap > 0 && heapUsed > maxHeap) throw new OverloadedError('heapUsedBytes')
        if (maxRss > 0 && rssBytes > maxRss) throw new OverloadedError('rssBytes')
        return
      }
      throw new OverloadedError(measure)
    }
  }
}

/**
 * @fastify/under-pressure: past the configured event-loop delay, heap or RSS, every request
 * (readiness included) is a 503 problem with `Retry-After`. `app.isUnderPressure()` tells whether
 * a measure is over its threshold (during the start's grace, requests pass a delay over it).
 *
 * The start's grace: recovering a data directory blocks the event loop (long, for a large
 * store), and each delay sample, the mean over the interval before it, is kept until the
 * next one. So the sample taken at the end of recovery measures recovery, and without a grace
 * every request, readiness included, would be refused as overloaded for up to an interval after
 * the store had loaded. While the store recovers (readiness is 503 anyway) and for two intervals
 * after, the delay does not count. The grace follows `app.storeRecovery`, which the store plugin
 * (registered after this one) decorates: read once the app is ready; without it, from then.
 */
export default fp<{ config: Config }>(async (app, { config }) => {
  let delayCountsFrom = Infinity
  await app.register(underPressure, underPressureOptions(config, () => performance.now() >= delayCountsFrom))
  app.addHook('onReady', async () => {
    const startGrace = (): void => { delayCountsFrom = performance.now() + 2 * config.PRESSURE_SAMPLE_INTERVAL_MS }
    const recovery = app.hasDecorator('storeRecovery') ? app.storeRecovery : Promise.resolve()
    recovery.then(startGrace, startGrace)
  })
}, { name: 'under-pressure' })
