import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { loadConfig, type Config } from './config.js'
import { AppError } from './errors.js'
import { registerErrorHandlers, sendProblem, toAppError } from './error-handler.js'
import auditPlugin from './plugins/audit.js'
import changeStreamsPlugin, { type ChangeStreamTuning } from './plugins/change-streams.js'
import authPlugin, { type AuthTuning } from './plugins/auth.js'
import metricsPlugin from './plugins/metrics.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import replyBatchingPlugin from './plugins/reply-batching.js'
import securityHeadersPlugin from './plugins/security-headers.js'
import storePlugin from './plugins/store.js'
import swaggerPlugin from './plugins/swagger.js'
import underPressurePlugin from './plugins/under-pressure.js'
import changesRoutes from './routes/changes.js'
import chatsRoutes from './routes/chats.js'
import healthRoutes from './routes/health.js'
import { RequestLogController, lazyChildLogger } from './request-log.js'
import { buildValidator } from './validation.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    lifecycle: { shuttingDown: boolean }
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/

export interface BuildOptions {
  config?: Config
  /** Fastify logger options; the server passes pino's, tests usually pass false. */
  logger?: FastifyServerOptions['logger']
  /** The auth plugin's timings (JWKS cache and timeout); tests shorten them. */
  auth?: AuthTuning
  /** The change streams' heartbeat and slow-client limit; tests shorten them. */
  changeStreams?: ChangeStreamTuning
}

/**
 * Builds the whole app (plugins, store, routes, error handling) and waits until it is ready.
 * The server listens on what this returns; tests drive it with `inject` or a real socket.
 */
export async function buildApp (options: BuildOptions = {}): Promise<FastifyInstance> {
  const config = options.config ?? loadConfig()
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new RequestLogController(),
    childLoggerFactory: lazyChildLogger,
    bodyLimit: config.BODY_LIMIT,
    genReqId: (req) => {
      const sent = req.headers['x-request-id']
      return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID()
    },
    return503OnClosing: false,
    // Errors Fastify meets before routing (a bad URL, a path parameter over maxParamLength) go
    // through the same mapping as the rest: a problem+json 404, with the request id.
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff')
      sendProblem(reply, toAppError(err))
    },
    schemaController: { compilersFactory: { buildValidator } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  app.decorate('lifecycle', { shuttingDown: false })
  app.addHook('preClose', async () => { app.lifecycle.shuttingDown = true })
  // First, so that every answer has them, the guards' refusals included; CORS answers preflights here.
  await app.register(securityHeadersPlugin, { config })
  // Runs on every request: as a callback hook it spares the promise an async hook costs each time.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    if (app.lifecycle.shuttingDown && request.url !== '/health/live') {
      done(new AppError('unavailable', 'The service is shutting down', { retryAfter: 5 }))
      return
    }
    done()
  })

  // Bodies are JSON and nothing else: text/plain (Fastify's other default) is a 415. An empty body
  // is no body on a DELETE (some clients send Content-Type on every request), and malformed elsewhere.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.method === 'DELETE') { done(null, undefined); return }
    void parseJson(request, body.toString(), done)
  })

  // Guards before every route, so that every route gets them. Auth first: the rate limit counts per owner.
  await app.register(authPlugin, { config, ...(options.auth === undefined ? {} : { tuning: options.auth }) })
  await app.register(rateLimitPlugin, { config })
  await app.register(underPressurePlugin, { config })
  await app.register(replyBatchingPlugin, { config })
  registerErrorHandlers(app, { notFoundPreHandler: app.rateLimit() })
  await app.register(swaggerPlugin)
  await app.register(auditPlugin)
  await app.register(storePlugin, { config })
  await app.register(metricsPlugin)
  await app.register(healthRoutes)
  await app.register(changeStreamsPlugin, { config, ...(options.changeStreams === undefined ? {} : { tuning: options.changeStreams }) })
  await app.register(chatsRoutes)
  await app.register(changesRoutes)
  await app.ready()
  return app
}
