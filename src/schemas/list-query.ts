import { Type, type Static } from 'typebox'

/**
 * `GET /chats` query. Filters, sort, `cursor` and `q` come with the query engine; until then
 * they are unknown parameters, which are a 400, never silently ignored.
 */
export const ListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size, 1–100.' }),
  offset: Type.Integer({ minimum: 0, default: 0, description: 'Items to skip.' })
}, { additionalProperties: false })

export type ListQueryString = Static<typeof ListQuerySchema>
