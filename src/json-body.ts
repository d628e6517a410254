import secureJson from 'secure-json-parse'
import { AppError, type FieldError } from './errors.js'

const SECURE = { protoAction: 'error', constructorAction: 'error' } as const
/** The keys secure-json-parse refuses: JSON, but a way to an object's prototype in code that merges. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor'])
const FORBIDDEN_MESSAGE = 'is not allowed (a key that reaches an object\'s prototype)'

/**
 * A JSON body, parsed by secure-json-parse (as Fastify's own parser does). A `__proto__` or
 * `constructor.prototype` key is valid JSON, so it is a 400 `/problems/validation` naming each such
 * key, not `/problems/malformed-json`; secure-json-parse says only that there is one, so the keys
 * are found again in what `JSON.parse` makes of the text (an own property there, never a prototype).
 */
export function parseJsonBody (text: string): unknown {
  try {
    return secureJson.parse(text, null, SECURE)
  } catch {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new AppError('malformedJson', 'The body is not valid JSON')
    }
    const errors: FieldError[] = []
    forbiddenKeys(value, '', errors)
    throw new AppError('validation', errors.map((e) => `${e.in}${e.path} ${e.message}`).join(', '), { errors })
  }
}

function forbiddenKeys (value: unknown, path: string, errors: FieldError[]): void {
  if (typeof value !== 'object' || value === null) return
  for (const [key, child] of Object.entries(value)) {
    const at = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
    if (FORBIDDEN_KEYS.has(key)) errors.push({ in: 'body', path: at, message: FORBIDDEN_MESSAGE })
    forbiddenKeys(child, at, errors)
  }
}
