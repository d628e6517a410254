/**
 * Every problem type of the contract (RFC 9457), declared once. Code anywhere throws
 * `new AppError('notFound')`; the app's error handler turns it into application/problem+json.
 */
export const Problems = {
  validation: { status: 400, type: '/problems/validation', title: 'Request validation failed' },
  malformedJson: { status: 400, type: '/problems/malformed-json', title: 'Malformed JSON body' },
  unauthorized: { status: 401, type: '/problems/unauthorized', title: 'Unauthorized' },
  notFound: { status: 404, type: '/problems/not-found', title: 'Not found' },
  idempotencyKeyInFlight: { status: 409, type: '/problems/idempotency-key-in-flight', title: 'Idempotency key in flight' },
  changesExpired: { status: 410, type: '/problems/changes-expired', title: 'Changes expired' },
  preconditionFailed: { status: 412, type: '/problems/precondition-failed', title: 'Precondition failed' },
  payloadTooLarge: { status: 413, type: '/problems/payload-too-large', title: 'Payload too large' },
  unsupportedMediaType: { status: 415, type: '/problems/unsupported-media-type', title: 'Unsupported media type' },
  idempotencyKeyReused: { status: 422, type: '/problems/idempotency-key-reused', title: 'Idempotency key reused' },
  rateLimited: { status: 429, type: '/problems/rate-limited', title: 'Too many requests' },
  unavailable: { status: 503, type: '/problems/unavailable', title: 'Service unavailable' },
  capacityExceeded: { status: 507, type: '/problems/capacity-exceeded', title: 'Capacity exceeded' },
  internal: { status: 500, type: '/problems/internal', title: 'Internal server error' }
} as const

export type ProblemKind = keyof typeof Problems

/** What a 401 asks for (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="chats"'

/** One broken rule, as listed in a validation problem's `errors`. */
export interface FieldError {
  in: 'body' | 'querystring' | 'params' | 'headers'
  path: string
  message: string
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail?: string
  errors?: FieldError[]
}

export class AppError extends Error {
  readonly kind: ProblemKind
  readonly status: number
  readonly errors: FieldError[] | undefined
  /** Seconds, sent as `Retry-After` (409, 429 and 503). */
  readonly retryAfter: number | undefined
  /** A 401's `WWW-Authenticate` (RFC 6750): `Bearer realm="chats"`, with `error="invalid_token"` when a token was sent. */
  readonly wwwAuthenticate: string | undefined

  constructor (kind: ProblemKind, detail?: string, options: { errors?: FieldError[], retryAfter?: number, cause?: unknown, tokenSent?: boolean } = {}) {
    super(detail ?? Problems[kind].title, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.kind = kind
    this.status = Problems[kind].status
    this.errors = options.errors
    this.retryAfter = options.retryAfter
    this.wwwAuthenticate = this.status === 401 ? (options.tokenSent === true ? `${BEARER_CHALLENGE}, error="invalid_token"` : BEARER_CHALLENGE) : undefined
  }

  toProblem (): ProblemBody {
    const { type, title, status } = Problems[this.kind]
    const body: ProblemBody = { type, title, status, detail: this.message }
    if (this.errors !== undefined) body.errors = this.errors
    return body
  }
}

export const notFound = (detail = 'No chat with this id'): AppError => new AppError('notFound', detail)

/** A 401: missing, malformed, expired, wrongly signed or unknown credentials. `tokenSent` adds `error="invalid_token"` to the challenge. */
export const unauthorized = (detail: string, tokenSent: boolean): AppError => new AppError('unauthorized', detail, { tokenSent })
