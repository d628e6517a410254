import { Type, type Static } from 'typebox'
import { CHANGE_TYPES, type ChangeType } from '../store/types.js'
import { ChatRef } from './chat.js'

const Seq = Type.String({ maxLength: 64, description: 'Opaque; the server orders an owner\'s changes by it, in the order the writes took effect.', examples: ['1765000000000001'] })

export const ChangeSchema = Type.Object({
  seq: Seq,
  type: Type.Unsafe<ChangeType>({ type: 'string', enum: [...CHANGE_TYPES] }),
  id: Type.String({ description: 'The chat\'s id.' }),
  version: Type.Integer({ minimum: 1, description: 'The chat\'s version after the write; for `deleted`, the version it had.' }),
  at: Type.String({ format: 'date-time', description: 'When the write took effect.' }),
  chat: Type.Optional(ChatRef)
}, { $id: 'Change', additionalProperties: false, description: 'One change of the owner\'s feed; `chat` (the chat after the write) is absent on `deleted`.' })

export const ChangePageSchema = Type.Object({
  items: Type.Array(Type.Ref('Change')),
  nextAfter: Type.String({ description: 'Pass as `after` for the next page: the last item\'s seq, or with no items the current position (following from it misses nothing newer).' })
}, { $id: 'ChangePage', additionalProperties: false, description: 'One page of changes, oldest first.' })

export const HistoryEntrySchema = Type.Object({
  version: Type.Integer({ minimum: 1 }),
  type: Type.Unsafe<'created' | 'updated'>({ type: 'string', enum: ['created', 'updated'] }),
  at: Type.String({ format: 'date-time', description: 'When this version was written.' }),
  chat: ChatRef
}, { $id: 'HistoryEntry', additionalProperties: false, description: 'One kept version of a chat, as it was then.' })

export const HistoryPageSchema = Type.Object({
  items: Type.Array(Type.Ref('HistoryEntry')),
  limit: Type.Integer({ minimum: 1, maximum: 100 }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' })
}, { $id: 'HistoryPage', additionalProperties: false, description: 'One page of a chat\'s kept versions, oldest first.' })

/** `GET /changes` query. */
export const ChangesQuerySchema = Type.Object({
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A `seq`: start after that change. Absent: from the oldest change kept (an event stream: from now on). Older than what is kept: 410.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Page size, 1–1000 (not for an event stream); default 100.' }))
}, { additionalProperties: false })

export const ChangesHeadersSchema = Type.Object({
  accept: Type.Optional(Type.String({ description: '`text/event-stream` for a live feed (Server-Sent Events) instead of a page.' })),
  'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'An event stream resumes after this seq (what EventSource sends when it reconnects); it wins over `after`.' }))
})

/** `GET /chats/{id}/history` query. */
export const HistoryQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size, 1–100; default 20.' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The `nextCursor` of an earlier page of this chat\'s history.' }))
}, { additionalProperties: false })

export type ChangesQuery = Static<typeof ChangesQuerySchema>
