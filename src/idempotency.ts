import { createHash } from 'node:crypto'
import { AppError } from './errors.js'

const PRINTABLE = /^[\x20-\x7e]{1,255}$/
// A Structured Field string (RFC 8941): in double quotes, with \" and \\ as the only escapes.
const QUOTED = /^"((?:[^"\\]|\\["\\])*)"$/

/**
 * The `Idempotency-Key` of a request (draft-ietf-httpapi-idempotency-key-header): 1–255 printable
 * ASCII characters, optionally as a quoted string; undefined when absent. Anything else is a 400.
 */
export function parseIdempotencyKey (value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  let key = typeof value === 'string' ? value : undefined
  const quoted = key === undefined ? null : QUOTED.exec(key)
  if (quoted !== null) key = quoted[1]!.replace(/\\(["\\])/g, '$1')
  if (key === undefined || !PRINTABLE.test(key)) {
    const message = 'must be 1–255 printable ASCII characters, optionally in double quotes, sent once'
    throw new AppError('validation', `headers/idempotency-key ${message}`, { errors: [{ in: 'headers', path: '/idempotency-key', message }] })
  }
  return key
}

/** JSON with every object's keys in code-point order and no white space: one text per JSON value. */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return value === undefined ? 'null' : JSON.stringify(value)
}

/** What identifies a request body for its key: the SHA-256 of its canonical JSON, whatever its formatting or key order. */
export function fingerprintOf (body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url')
}
