import { Type, type Static } from 'typebox'
import { PRIORITIES, type Chat, type Priority } from '../store/types.js'
import { DESCRIPTION_MAX, TITLE_MAX } from '../store/rules.js'

export const PrioritySchema = Type.Unsafe<Priority>({
  $id: 'Priority',
  type: 'string',
  enum: [...PRIORITIES],
  description: 'Sorting uses this order (low < medium < high), not the alphabet.'
})

/**
 * The title rule exactly, for validators that read the document: after `String.prototype.trim`
 * (which removes what `\s` matches), 1–TITLE_MAX code points, none of them U+0000–U+001F or U+007F.
 * The service checks the same rule in code (`x-chat-text`), for messages that name what is wrong.
 */
export const TITLE_PATTERN = String.raw`^\s*[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]{0,${TITLE_MAX - 2}}[^\s\u0000-\u001f\u007f])?\s*$`
/** No control characters but \n, \r and \t; the length is `maxLength`'s (code points, like the service's count). */
export const DESCRIPTION_PATTERN = String.raw`^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$`

const Title = Type.String({
  minLength: 1,
  pattern: TITLE_PATTERN,
  description: `Trimmed before it is stored; 1–${TITLE_MAX} characters (code points) after the trim, no control characters. ` +
    `The limit counts after the trim, which \`maxLength\` cannot say: \`pattern\` says it exactly (leading and trailing white space, then 1–${TITLE_MAX} code points).`,
  'x-chat-text': 'title',
  examples: ['Project update']
})
const Description = Type.String({
  maxLength: DESCRIPTION_MAX,
  pattern: DESCRIPTION_PATTERN,
  description: `0–${DESCRIPTION_MAX} characters (code points); control characters other than \\n, \\r and \\t are refused (\`pattern\`).`,
  'x-chat-text': 'description',
  examples: ['Weekly sync about the launch']
})
const IsActive = Type.Boolean({ description: 'Whether the session is active.' })
const PriorityRef = Type.Unsafe<Priority>(Type.Ref('Priority'))

export const ChatSchema = Type.Object({
  id: Type.String({ maxLength: 64, description: 'Server-made, opaque, URL-safe; sorts in creation order.', examples: ['01936f0e-4a4b-7c3d-8e5f-0123456789ab'] }),
  title: Type.String({ minLength: 1, maxLength: TITLE_MAX, description: 'Trimmed; no control characters.', examples: ['Project update'] }),
  description: Type.String({ maxLength: DESCRIPTION_MAX }),
  priority: PriorityRef,
  isActive: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time', description: 'RFC 3339 UTC with milliseconds.' }),
  updatedAt: Type.String({ format: 'date-time', description: 'Strictly later after every update.' }),
  version: Type.Integer({ minimum: 1, description: '1 on create, +1 on every update.' })
}, { $id: 'Chat', additionalProperties: false, description: 'A chat session.' })

/** `POST /chats` and `PUT /chats/{id}`: `title` required, the other writable fields optional (defaults apply). */
export const ChatInputSchema = Type.Object({
  title: Title,
  description: Type.Optional(Description),
  priority: Type.Optional(PriorityRef),
  isActive: Type.Optional(IsActive)
}, { $id: 'ChatInput', additionalProperties: false, description: 'The writable fields of a chat; omitted ones take their defaults (description "", priority medium, isActive true).' })

/** `PATCH /chats/{id}`: any non-empty subset of the writable fields. */
export const ChatPatchSchema = Type.Object({
  title: Type.Optional(Title),
  description: Type.Optional(Description),
  priority: Type.Optional(PriorityRef),
  isActive: Type.Optional(IsActive)
}, { $id: 'ChatPatch', additionalProperties: false, minProperties: 1, description: 'Any non-empty subset of the writable fields.' })

/** A reference to the shared `Chat` component, typed as a chat. */
export const ChatRef = Type.Unsafe<Chat>(Type.Ref('Chat'))

export const ChatPageSchema = Type.Object({
  items: Type.Array(ChatRef),
  total: Type.Integer({ minimum: 0, description: 'Every chat that matches the filters.' }),
  limit: Type.Integer({ minimum: 1, maximum: 100 }),
  offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Present when the page was asked by offset.' })),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' })
}, { $id: 'ChatPage', additionalProperties: false, description: 'One page of chats.' })

export const ChatIdParamsSchema = Type.Object({
  id: Type.String({ description: 'The chat id. A value that cannot be an id is answered 404, like an unknown one.' })
})

export type ChatInputBody = Static<typeof ChatInputSchema>
