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

export function underPressureOptions (config: Config): FastifyUnderPressureOptions {
  return {
    maxEventLoopDelay: config.PRESSURE_MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: config.PRESSURE_MAX_HEAP_USED_BYTES,
    maxRssBytes: config.PRESSURE_MAX_RSS_BYTES,
    sampleInterval: config.PRESSURE_SAMPLE_INTERVAL_MS,
    pressureHandler: async (request, _reply, measure) => {
      if (request.routeOptions.url !== undefined && EXEMPT_ROUTES.has(request.routeOptions.url)) return
      throw new OverloadedError(measure)
    }
  }
}

/**
 * @fastify/under-pressure: past the configured event-loop delay, heap or RSS, every request
 * (readiness included) is a 503 problem with `Retry-After`; `app.isUnderPressure()` tells.
 */
export default fp<{ config: Config }>(async (app, { config }) => {
  await app.register(underPressure, underPressureOptions(config))
}, { name: 'under-pressure' })
