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
 * load at this moment (see `startGrace` below); when it is not, a delay over the threshold lets the
 * request through.
 */
export function underPressureOptions (config: Config, delayCounts: () => boolean = () => true): FastifyUnderPressureOptions {
  return {
    maxEventLoopDelay: config.PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: config.PRESSURE_MAX_HEAP_USED_BYTES,
    maxRssBytes: config.PRESSURE_MAX_RSS_BYTES,
    sampleInterval: config.PRESSURE_SAMPLE_INTERVAL_MS,
    pressureHandler: async (request, _reply, measure) => {
      if (request.routeOptions.url !== undefined && EXEMPT_ROUTES.has(request.routeOptions.url)) return
      if (measure === 'eventLoopDelay' && !delayCounts()) return
      throw new OverloadedError(measure)
    }
  }
}

/**
 * @fastify/under-pressure: past the configured event-loop delay, heap or RSS, every request
 * (readiness included) is a 503 problem with `Retry-After`; `app.isUnderPressure()` tells.
 *
 * The start's grace: loading the modules and recovering a data directory block the event loop
 * (for seconds, with a million chats), and each delay sample is the mean over the interval before
 * it, kept until the next one. So the sample taken just after recovery measures recovery, and
 * without a grace every request, readiness included, would be refused as overloaded for up to
 * two sample intervals after the store had loaded. The delay counts from two intervals after
 * the store's recovery ends. (A request let through this way is not checked against the heap and
 * RSS thresholds either, which are off by default: the plugin stops at the first measure over.)
 */
export default fp<{ config: Config }>(async (app, { config }) => {
  let delayCountsFrom = Infinity
  await app.register(underPressure, underPressureOptions(config, () => performance.now() >= delayCountsFrom))
  app.addHook('onReady', async () => {
    const startGrace = (): void => { delayCountsFrom = performance.now() + 2 * config.PRESSURE_SAMPLE_INTERVAL_MS }
    app.storeRecovery.then(startGrace, startGrace)
  })
}, { name: 'under-pressure' })
