/**
 * Every error a store throws, declared once. The store knows nothing of HTTP: the error handler
 * (`src/error-handler.ts`) is the one place that turns these codes into HTTP answers.
 */
export type StoreErrorCode =
  /** The input or the query breaks a rule; `fields` says which. */
  | 'invalid'
  /** No chat with this id. */
  | 'notFound'
  /** The caller named versions and the chat is at none of them. */
  | 'versionMismatch'
  /** The write would pass the store's item or memory limit. */
  | 'capacity'
  /** The store's lock could not be had in time: try again soon. */
  | 'busy'
  /** The store cannot serve this now (recovering, read-only after a disk error, closed). */
  | 'unavailable'
  /** A change-feed position (`after`) older than what is kept, or not of this store's history: list again. */
  | 'expired'
  /** A create with this idempotency key is still being processed: try again soon. */
  | 'keyInFlight'
  /** The idempotency key was used before with another request body. */
  | 'keyReused'

/** One broken rule: `field` is a path in the input or the query, e.g. `/title` or `/cursor`. */
export interface InvalidField {
  /** What was checked: the chat's fields or the list query. */
  source: 'input' | 'query'
  field: string
  message: string
}

export class StoreError extends Error {
  override name = 'StoreError'
  readonly code: StoreErrorCode
  /** For `invalid`: every broken rule. */
  readonly fields: readonly InvalidField[]
  /** For `busy`, `unavailable` and `keyInFlight`: when trying again makes sense, in seconds. */
  readonly retryAfterSeconds: number | undefined

  constructor (code: StoreErrorCode, message: string, options: { fields?: readonly InvalidField[], retryAfterSeconds?: number, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.fields = options.fields ?? []
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/** The error of broken rules, its message listing them all. Callers throw it only when `fields` is not empty. */
export function invalidError (fields: readonly InvalidField[]): StoreError {
  return new StoreError('invalid', fields.map((f) => `${f.field} ${f.message}`).join(', '), { fields })
}

export const chatNotFound = (): StoreError => new StoreError('notFound', 'No chat with this id')
