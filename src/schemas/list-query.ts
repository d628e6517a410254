import { Type, type Static } from 'typebox'
import { AppError, type FieldError } from '../errors.js'
import { PRIORITIES, SORT_FIELDS, type ListQuery, type Priority, type SortField, type SortKey } from '../store/types.js'
import { listQueryProblems } from '../store/rules.js'

/** The page size when `limit` is not sent (Ajv fills it in; the fallback below is for the type). */
export const LIMIT_DEFAULT = 20

const PRIORITY = `(${PRIORITIES.join('|')})`
const SORT_KEY = `-?(${SORT_FIELDS.join('|')})`

/** `GET /chats` query. Unknown parameters are a 400, never silently ignored. */
export const ListQuerySchema = Type.Object({
  priority: Type.Optional(Type.Array(Type.String({ pattern: `^${PRIORITY}(,${PRIORITY})*$` }), {
    description: 'One or more priorities, as `priority=high,low` or repeated `priority=high&priority=low`; matches any of them.'
  })),
  isActive: Type.Optional(Type.Boolean({ description: '`true` or `false`.' })),
  createdFrom: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339 date-time; chats created at or after it.' })),
  createdTo: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339 date-time; chats created before it (exclusive).' })),
  q: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 500,
    description: 'Full-text search over title and description, case- and accent-insensitive; words split on anything not a Unicode letter or digit; every query word must start some word of the chat (`q=proj upd` finds "Project update"). Needs at least one letter or digit.'
  })),
  sort: Type.Optional(Type.String({
    pattern: `^${SORT_KEY}(,${SORT_KEY})*$`,
    description: 'Comma list of `createdAt`, `updatedAt`, `priority` (low < medium < high), `title` (lower-cased, by code point), each optionally prefixed by `-` for descending; ties always broken by `id` ascending. Default `createdAt`.',
    examples: ['-createdAt', 'priority,-updatedAt']
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: LIMIT_DEFAULT, description: `Page size, 1–100; default ${LIMIT_DEFAULT}.` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Matches to skip; default 0. Not with `cursor`.' })),
  cursor: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 2048,
    description: 'The `nextCursor` of an earlier page, sent with the same filters and sort (`limit` may change). Not with `offset`.'
  }))
}, { additionalProperties: false })

export type ListQueryString = Static<typeof ListQuerySchema>

/**
 * The store's query from the checked query string: priorities split, dates as epoch ms, the sort
 * parsed. The store checks its own rules (`checkListQuery`); they are added here only so that a
 * 400 lists every broken rule at once.
 */
export function toListQuery (qs: ListQueryString): ListQuery {
  const errors: FieldError[] = []
  const query: ListQuery = { limit: qs.limit ?? LIMIT_DEFAULT }
  if (qs.priority !== undefined) {
    const [only] = qs.priority
    query.priority = qs.priority.length === 1 && !only!.includes(',') ? [only as Priority] : [...new Set(qs.priority.flatMap((p) => p.split(',') as Priority[]))]
  }
  if (qs.isActive !== undefined) query.isActive = qs.isActive
  if (qs.createdFrom !== undefined) query.createdFrom = epochMs(qs.createdFrom, '/createdFrom', errors)
  if (qs.createdTo !== undefined) query.createdTo = epochMs(qs.createdTo, '/createdTo', errors)
  if (qs.q !== undefined) query.q = qs.q
  if (qs.sort !== undefined) query.sort = parseSort(qs.sort)
  if (qs.cursor !== undefined) query.cursor = qs.cursor
  if (qs.offset !== undefined) query.offset = qs.offset
  if (errors.length > 0) {
    for (const f of listQueryProblems(query)) errors.push({ in: 'querystring', path: f.field, message: f.message })
    throw new AppError('validation', errors.map((e) => `${e.in}${e.path} ${e.message}`).join(', '), { errors })
  }
  return query
}

export function parseSort (sort: string): SortKey[] {
  return sort.split(',').map((key) => key.startsWith('-')
    ? { field: key.slice(1) as SortField, descending: true }
    : { field: key as SortField, descending: false })
}

/**
 * Epoch milliseconds of an RFC 3339 date-time, rounded up to the next millisecond when it has
 * finer digits: the store keeps milliseconds, and `createdAt >= from` / `< to` stay exact that way.
 */
export function epochMs (value: string, path: string, errors: FieldError[]): number {
  const upper = value.toUpperCase()
  const fraction = /\.(\d+)/.exec(upper)?.[1] ?? ''
  const ms = Date.parse(upper.replace(/\.(\d+)/, fraction === '' ? '' : `.${fraction.slice(0, 3).padEnd(3, '0')}`))
  if (Number.isNaN(ms)) {
    errors.push({ in: 'querystring', path, message: 'must be a valid RFC 3339 date-time' })
    return 0
  }
  return /[1-9]/.test(fraction.slice(3)) ? ms + 1 : ms
}
