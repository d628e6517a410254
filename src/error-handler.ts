import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { AppError, notFound, type FieldError, type ProblemKind } from './errors.js'
import { StoreError, type StoreErrorCode } from './store/errors.js'
import { toFieldError } from './validation.js'

const PROBLEM_JSON = 'application/problem+json; charset=utf-8'

/** Fastify's own error codes, mapped to the contract's problems. */
const FASTIFY_CODES: Partial<Record<string, () => AppError>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new AppError('unsupportedMediaType', 'Send the body as application/json'),
  FST_ERR_CTP_INVALID_TYPE: () => new AppError('unsupportedMediaType', 'Send the body as application/json'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new AppError('payloadTooLarge', 'The request body is larger than the configured limit'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new AppError('malformedJson', 'The body is empty; send a JSON object'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new AppError('malformedJson', 'The body is not valid JSON'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new AppError('malformedJson', 'The body does not match its Content-Length'),
  FST_ERR_CTP_INVALID_CONTENT_TYPE: () => new AppError('unsupportedMediaType', 'Send the body as application/json'),
  FST_ERR_BAD_URL: () => notFound('No such route'),
  FST_ERR_MAX_PARAM_LENGTH: () => notFound(),
  FST_ERR_ASYNC_CONSTRAINT: () => notFound('No such route')
}

/** The store's errors as the contract's problems: the one place where the store meets HTTP. */
const STORE_PROBLEMS: Record<StoreErrorCode, ProblemKind> = {
  invalid: 'validation',
  notFound: 'notFound',
  versionMismatch: 'preconditionFailed',
  capacity: 'capacityExceeded',
  busy: 'unavailable',
  unavailable: 'unavailable',
  expired: 'changesExpired',
  keyInFlight: 'idempotencyKeyInFlight',
  keyReused: 'idempotencyKeyReused'
}

function fromStoreError (err: StoreError): AppError {
  const options = { retryAfter: err.retryAfterSeconds, cause: err }
  if (err.code === 'invalid') {
    const errors = err.fields.map((f): FieldError => ({ in: f.source === 'input' ? 'body' : 'querystring', path: f.field, message: f.message }))
    return new AppError('validation', errors.map((e) => `${e.in}${e.path} ${e.message}`).join(', '), { ...options, errors })
  }
  if (err.code === 'versionMismatch') return new AppError('preconditionFailed', `If-Match does not match: ${err.message}`, options)
  return new AppError(STORE_PROBLEMS[err.code], err.message, options)
}

/** Turns anything thrown into the contract's problem: known errors by name, everything else a 500 that tells nothing of the internals. */
export function toAppError (thrown: unknown): AppError {
  if (thrown instanceof AppError) return thrown
  if (thrown instanceof StoreError) return fromStoreError(thrown)
  // Anything may be thrown; Fastify's own errors carry these fields.
  const err = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as Partial<FastifyError>
  if (err.validation !== undefined) {
    const part: FieldError['in'] = err.validationContext ?? 'body'
    const errors = err.validation.map((e) => toFieldError(e, part))
    return new AppError('validation', errors.map((e) => `${e.in}${e.path} ${e.message}`).join(', '), { errors })
  }
  const mapped = err.code === undefined ? undefined : FASTIFY_CODES[err.code]
  if (mapped !== undefined) return mapped()
  if (thrown instanceof SyntaxError && err.statusCode === 400) return new AppError('malformedJson', 'The body is not valid JSON')
  if (err.statusCode === 429) return new AppError('rateLimited', err.message)
  return new AppError('internal', 'An unexpected error occurred; the log has it under this request id')
}

/**
 * Sends the problem. The error and not-found handlers, which are synchronous, call it and return
 * nothing: a reply returned from a handler is a thenable that Fastify waits on with
 * `stream.finished` (six listeners on the response) whenever the answer has not gone out yet,
 * which with reply batching is every time. (An async handler must not send and return nothing:
 * while batching holds the answer, Fastify would send again. It returns its payload instead.)
 */
export function sendProblem (reply: FastifyReply, error: AppError): void {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
  if (error.wwwAuthenticate !== undefined) reply.header('www-authenticate', error.wwwAuthenticate)
  void reply.code(error.status).type(PROBLEM_JSON).send(error.toProblem())
}

/** `notFoundPreHandler`: what guards unknown routes as well (the rate limit). */
export function registerErrorHandlers (app: FastifyInstance, options: { notFoundPreHandler?: preHandlerAsyncHookHandler } = {}): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toAppError(err)
    if (problem.status >= 500 && problem.kind === 'internal') request.log.error({ err }, 'unhandled error')
    // The request log's completion line already says the status at info; the why is for debugging.
    else request.log.debug({ problem: problem.kind, detail: problem.message }, 'request refused')
    sendProblem(reply, problem)
  })
  app.setNotFoundHandler({ preHandler: options.notFoundPreHandler }, (request: FastifyRequest, reply: FastifyReply) => {
    sendProblem(reply, notFound(`No route ${request.method} ${request.url.split('?')[0] ?? ''}`))
  })
}
