import { Type } from 'typebox'
import { Problems, type ProblemKind } from '../errors.js'

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'A URI reference naming the problem type, e.g. /problems/validation.' }),
  title: Type.String(),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({
    in: Type.String({ description: 'body, querystring, params or headers' }),
    path: Type.String({ description: 'A JSON pointer into that part of the request.' }),
    message: Type.String()
  }, { additionalProperties: false })))
}, { $id: 'Problem', description: 'An RFC 9457 problem.' })

const RetryAfter = { type: 'integer', description: 'Seconds to wait before trying again.' }
const WwwAuthenticate = { type: 'string', description: '`Bearer realm="chats"`, with `error="invalid_token"` when a token was sent (RFC 6750).' }

const descriptions: Record<ProblemKind, string> = {
  validation: 'A body, query or path value breaks the rules; `errors` lists every broken rule, or the body is not JSON (`/problems/malformed-json`).',
  malformedJson: 'The body is not JSON.',
  unauthorized: 'Credentials are missing, malformed, expired or unknown (AUTH_MODE other than none).',
  notFound: 'No such chat.',
  preconditionFailed: '`If-Match` does not match the current version.',
  idempotencyKeyInFlight: 'A create with this `Idempotency-Key` is still being processed; try again after `Retry-After`.',
  changesExpired: '`after` (or `Last-Event-ID`) is older than the changes kept: list the chats again, then follow the feed from its newest seq.',
  idempotencyKeyReused: 'This `Idempotency-Key` was used before with another request body.',
  payloadTooLarge: 'The body is over the configured limit.',
  unsupportedMediaType: 'The body is not JSON.',
  rateLimited: 'Over the rate limit.',
  unavailable: 'The store is busy, the process is overloaded, or it is shutting down.',
  capacityExceeded: 'The store is full (max items or memory budget).',
  internal: 'A bug; the log has the details under the request id.'
}

/** Declares the problem+json answers of a route, by the contract's names. */
export function problemResponses (...kinds: ProblemKind[]): Record<number, unknown> {
  const out: Record<number, unknown> = {}
  for (const kind of kinds) {
    const { status } = Problems[kind]
    if (out[status] !== undefined) continue
    out[status] = {
      description: descriptions[kind],
      ...(status === 409 || status === 429 || status === 503 ? { headers: { 'Retry-After': RetryAfter } } : {}),
      ...(status === 401 ? { headers: { 'WWW-Authenticate': WwwAuthenticate } } : {}),
      content: { 'application/problem+json': { schema: Type.Ref('Problem') } }
    }
  }
  return out
}
