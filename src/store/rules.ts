import type { ChatFields, ChatInput, ChatPatch, ListQuery, SortKey, WriteOptions } from './types.js'
import { invalidError, StoreError, type InvalidField } from './errors.js'

/**
 * The store's rules, each once, for every backend: what a valid chat is (titles are trimmed before
 * they are measured, lengths count Unicode code points, control characters are refused), the
 * defaults, how a patch merges, the version check of a conditional write, and what a valid list
 * query is. `ChatStore` applies them before a backend sees a call; backends call `mergePatch` and
 * `checkVersion` inside their own atomic section. The HTTP schemas say the same limits for the
 * OpenAPI document, and `src/validation.ts` reuses these checks so that a 400 lists every rule.
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

export const DEFAULTS = { description: '', priority: 'medium', isActive: true } as const

/** The title as stored (trimmed); its problems are added to `errors`. */
function checkTitle (raw: string, errors: InvalidField[]): string {
  const title = raw.trim()
  for (const message of titleProblems(title)) errors.push({ source: 'input', field: '/title', message })
  return title
}

function checkDescription (description: string, errors: InvalidField[]): void {
  for (const message of descriptionProblems(description)) errors.push({ source: 'input', field: '/description', message })
}

function throwIfAny (errors: InvalidField[]): void {
  if (errors.length > 0) throw invalidError(errors)
}

/** A create's or a replace's fields as stored: checked, the title trimmed, omitted fields at their defaults. */
export function chatFields (input: ChatInput): ChatFields {
  const errors: InvalidField[] = []
  const title = checkTitle(input.title, errors)
  const description = input.description ?? DEFAULTS.description
  checkDescription(description, errors)
  throwIfAny(errors)
  return { title, description, priority: input.priority ?? DEFAULTS.priority, isActive: input.isActive ?? DEFAULTS.isActive }
}

/** A patch as stored: checked, its title trimmed; only the fields it names. */
export function checkPatch (patch: ChatPatch): ChatPatch {
  const errors: InvalidField[] = []
  const checked: ChatPatch = {}
  if (patch.title !== undefined) checked.title = checkTitle(patch.title, errors)
  if (patch.description !== undefined) checkDescription(checked.description = patch.description, errors)
  if (patch.priority !== undefined) checked.priority = patch.priority
  if (patch.isActive !== undefined) checked.isActive = patch.isActive
  throwIfAny(errors)
  return checked
}

/** The fields after a checked patch: what it names replaces, the rest stays. */
export function mergePatch (current: ChatFields, patch: ChatPatch): ChatFields {
  return {
    title: patch.title ?? current.title,
    description: patch.description ?? current.description,
    priority: patch.priority ?? current.priority,
    isActive: patch.isActive ?? current.isActive
  }
}

/** A conditional write goes on only when the chat's current version is among those named. */
export function checkVersion (current: number, options: WriteOptions): void {
  if (options.ifVersion !== undefined && !options.ifVersion.includes(current)) {
    throw new StoreError('versionMismatch', `the chat's current version (${current}) is not among those named`)
  }
}

const DEFAULT_SORT: readonly SortKey[] = Object.freeze([{ field: 'createdAt', descending: false }])
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u

/**
 * A list query as backends take it: `cursor` and `offset` not together (offset 0 without a cursor),
 * `q` with a letter or a digit, the sort given (default `createdAt`) with each field once, its first
 * mention kept.
 */
export function checkListQuery (query: ListQuery): ListQuery {
  throwIfAny(listQueryProblems(query))
  // One object literal of one shape for every query (a spread costs a list call more than the rest of this together).
  return {
    priority: query.priority,
    isActive: query.isActive,
    createdFrom: query.createdFrom,
    createdTo: query.createdTo,
    q: query.q,
    sort: uniqueSort(query.sort),
    limit: query.limit,
    offset: query.cursor === undefined ? query.offset ?? 0 : undefined,
    cursor: query.cursor
  }
}

/** The rules a list query breaks (none: an empty list). */
export function listQueryProblems (query: Pick<ListQuery, 'cursor' | 'offset' | 'q'>): InvalidField[] {
  const errors: InvalidField[] = []
  if (query.q !== undefined && !LETTER_OR_DIGIT.test(query.q)) errors.push({ source: 'query', field: '/q', message: 'must contain a letter or a digit' })
  if (query.cursor !== undefined && query.offset !== undefined) errors.push({ source: 'query', field: '/offset', message: 'cannot be combined with cursor' })
  return errors
}

function uniqueSort (sort: readonly SortKey[] | undefined): SortKey[] {
  if (sort === undefined || sort.length === 0) return DEFAULT_SORT as SortKey[]
  if (sort.length === 1) return sort as SortKey[]
  const seen = new Set<string>()
  return sort.filter((k) => !seen.has(k.field) && seen.add(k.field))
}
