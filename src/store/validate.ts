import { AppError, type FieldError } from '../errors.js'

/**
 * Rules the JSON schemas cannot say: titles are trimmed before they are measured, lengths count
 * Unicode code points, and control characters are refused. The store applies them on every write,
 * whoever calls it.
 */
export const TITLE_MAX = 200
export const DESCRIPTION_MAX = 2000

// eslint-disable-next-line no-control-regex
const TITLE_FORBIDDEN = /[\u0000-\u001f\u007f]/
// eslint-disable-next-line no-control-regex
const DESCRIPTION_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/

/** Code points of `s`, counted without building an array. Only strings with surrogates need the slow count. */
export function codePointLength (s: string): number {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++ }
    }
  }
  return n
}

export function checkTitle (raw: string, errors: FieldError[]): string {
  const title = raw.trim()
  const length = codePointLength(title)
  if (length < 1) errors.push({ in: 'body', path: '/title', message: 'must not be empty or only white space' })
  else if (length > TITLE_MAX) errors.push({ in: 'body', path: '/title', message: `must NOT have more than ${TITLE_MAX} characters` })
  if (TITLE_FORBIDDEN.test(title)) errors.push({ in: 'body', path: '/title', message: 'must not contain control characters' })
  return title
}

export function checkDescription (description: string, errors: FieldError[]): void {
  if (codePointLength(description) > DESCRIPTION_MAX) errors.push({ in: 'body', path: '/description', message: `must NOT have more than ${DESCRIPTION_MAX} characters` })
  if (DESCRIPTION_FORBIDDEN.test(description)) errors.push({ in: 'body', path: '/description', message: 'must not contain control characters other than \\n, \\r and \\t' })
}

export function throwIfAny (errors: FieldError[]): void {
  if (errors.length > 0) {
    throw new AppError('validation', errors.map((e) => `${e.in}${e.path} ${e.message}`).join(', '), { errors })
  }
}
