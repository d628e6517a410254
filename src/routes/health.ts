import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError } from '../errors.js'
import { NO_SECURITY } from '../plugins/swagger.js'
import { problemResponses } from '../schemas/problem.js'

const Status = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })
const tags = ['health']

/** Liveness and readiness probes; exempt from rate limits and auth. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', {
    config: { rateLimit: false },
    schema: {
      operationId: 'live',
      summary: 'Liveness probe',
      description: 'The process is up.',
      tags,
      security: NO_SECURITY,
      response: { 200: { description: 'Alive.', content: { 'application/json': { schema: Status } } } }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    config: { rateLimit: false },
    schema: {
      operationId: 'ready',
      summary: 'Readiness probe',
      description: 'Ready to serve: the store has loaded its data, takes writes, and the process is not shutting down.',
      tags,
      security: NO_SECURITY,
      response: {
        200: { description: 'Ready.', content: { 'application/json': { schema: Status } } },
        ...problemResponses('unavailable', 'internal')
      }
    }
  }, async () => {
    if (app.lifecycle.shuttingDown) throw new AppError('unavailable', 'Shutting down', { retryAfter: 5 })
    const store = await app.store.health()
    if (!store.ready) throw new AppError('unavailable', store.detail ?? 'The store is not ready', { retryAfter: store.recovering ? 1 : 5 })
    return { status: 'ok' as const }
  })
}

export default healthRoutes
