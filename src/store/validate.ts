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

/** Nothing wrong: one shared empty list, so that a valid value costs no allocation. */
const NONE: readonly string[] = Object.freeze([])

/**
 * What is wrong with a title once trimmed (nothing: an empty list). A string has at most as many
 * code points as code units, so one of 1 to TITLE_MAX units needs no count of its code points.
 */
export function titleProblems (trimmed: string): readonly string[] {
  if (trimmed.length >= 1 && trimmed.length <= TITLE_MAX && !TITLE_FORBIDDEN.test(trimmed)) return NONE
  const problems: string[] = []
  const length = codePointLength(trimmed)
  if (length < 1) problems.push('must not be empty or only white space')
  else if (length > TITLE_MAX) problems.push(`must NOT have more than ${TITLE_MAX} characters`)
  if (TITLE_FORBIDDEN.test(trimmed)) problems.push('must not contain control characters')
  return problems
}

export const DESCRIPTION_CONTROL_MESSAGE = 'must not contain control characters other than \\n, \\r and \\t'

export function hasForbiddenDescriptionCharacters (description: string): boolean {
  return DESCRIPTION_FORBIDDEN.test(description)
}

export function descriptionProblems (description: string): readonly string[] {
  if (description.length <= DESCRIPTION_MAX && !hasForbiddenDescriptionCharacters(description)) return NONE
  const problems: string[] = []
  if (codePointLength(description) > DESCRIPTION_MAX) problems.push(`must NOT have more than ${DESCRIPTION_MAX} characters`)
  if (hasForbiddenDescriptionCharacters(description)) problems.push(DESCRIPTION_CONTROL_MESSAGE)
  return problems
}

/** The title as stored (trimmed); its problems are added to `errors`. */
export function checkTitle (raw: string, errors: FieldError[]): string {
  const title = raw.trim()
  for (const message of titleProblems(title)) errors.push({ in: 'body', path: '/title', message })
  return title
}

export function checkDescription (description: string, errors: FieldError[]): void {
  for (const message of descriptionProblems(description)) errors.push({ in: 'body', path: '/description', message })
}

export function throwIfAny (errors: FieldError[]): void {
  if (errors.length > 0) {
    throw new AppError('validation', errors.map((e) => `${e.in}${e.path} ${e.message}`).join(', '), { errors })
  }
}
