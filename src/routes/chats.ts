import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { etagOf, noneMatchHits, parseIfMatch } from '../etag.js'
import { notFound } from '../errors.js'
import { fingerprintOf, parseIdempotencyKey } from '../idempotency.js'
import { HistoryQuerySchema } from '../schemas/changes.js'
import { ChatIdParamsSchema, ChatRef, type ChatInputBody } from '../schemas/chat.js'
import { ChatJsonCache } from '../schemas/chat-json.js'
import { ListQuerySchema, toListQuery } from '../schemas/list-query.js'
import { DATA_SECURITY } from '../plugins/swagger.js'
import { problemResponses } from '../schemas/problem.js'
import type { ChatPatch } from '../store/types.js'

const tags = ['chats']
// Every /chats route asks who the caller is (src/plugins/auth.ts) unless AUTH_MODE=none.
const security = DATA_SECURITY
// `x-required`: the document says the header is always there (src/plugins/swagger.ts).
const ETag = { type: 'string', 'x-required': true, description: 'The chat\'s current strong ETag.' }
const IfMatch = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'An ETag from an earlier answer, or `*`. When it does not match the current version the answer is 412 and nothing changes.' }))
})
const json = (schema: unknown) => ({ 'application/json': { schema } })
// The plain form, not `content`: Fastify then finds the serializer by status alone, without parsing the
// reply's Content-Type on every answer; @fastify/swagger writes the same document from either.
const chatResponse = (description: string, headers: Record<string, unknown> = { ETag }) =>
  ({ description, headers, ...ChatRef })
const ChatInputRef = Type.Unsafe<ChatInputBody>(Type.Ref('ChatInput'))
const ChatPatchRef = Type.Unsafe<ChatPatch>(Type.Ref('ChatPatch'))

/** `/chats`: short handlers that call the store. */
const chatsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app
  // A page is written by `pageJson` (the same bytes as the 200 schema's serializer), from JSON cached by chat.
  const pageJson = new ChatJsonCache()

  app.post('/chats', {
    schema: {
      operationId: 'createChat',
      summary: 'Create a chat session',
      description: 'Creates a chat. Answers 201 with the chat, its `Location` and its `ETag`.',
      tags,
      security,
      headers: Type.Object({
        'idempotency-key': Type.Optional(Type.String({
          minLength: 1,
          maxLength: 257,
          description: '1–255 printable ASCII characters, optionally in double quotes. The first answer is kept with the key for IDEMPOTENCY_TTL_S: the same key with the same body (the same JSON value) gets it again with `Idempotent-Replayed: true` and creates nothing; with another body, 422; while the first is being processed, 409. 429, 503 and 507 answers are not kept.'
        }))
      }),
      body: ChatInputRef,
      response: {
        201: chatResponse('Created', {
          Location: { type: 'string', 'x-required': true, description: 'The new chat\'s path.' },
          ETag,
          'Idempotent-Replayed': { type: 'string', enum: ['true'], description: 'Present on the kept answer of an `Idempotency-Key` sent again.' }
        }),
        ...problemResponses('validation', 'malformedJson', 'unauthorized', 'idempotencyKeyInFlight', 'payloadTooLarge', 'unsupportedMediaType', 'idempotencyKeyReused', 'rateLimited', 'unavailable', 'capacityExceeded', 'internal')
      }
    }
  }, async (request, reply) => {
    const key = parseIdempotencyKey(request.headers['idempotency-key'])
    const { chat, replayed } = key === undefined
      ? { chat: await store.create(request.owner, request.body), replayed: false }
      : await store.createOnce(request.owner, request.body, { key, fingerprint: fingerprintOf(request.body) })
    if (replayed) reply.header('idempotent-replayed', 'true')
    reply.code(201).header('location', `/chats/${chat.id}`).header('etag', etagOf(chat.version))
    return chat
  })

  app.get('/chats', {
    schema: {
      operationId: 'listChats',
      summary: 'List chat sessions',
      description: 'One page of the chats that match every filter, in the `sort` order, by `limit` and `offset` or `cursor`. `total` counts every match; `nextCursor` is a string whenever more items follow and null on the last page.',
      tags,
      security,
      querystring: ListQuerySchema,
      response: {
        200: { description: 'A page of chats.', content: json(Type.Ref('ChatPage')) },
        ...problemResponses('validation', 'unauthorized', 'rateLimited', 'unavailable', 'internal')
      }
    }
  }, async (request, reply) => {
    const page = await store.list(request.owner, toListQuery(request.query))
    reply.header('content-type', 'application/json; charset=utf-8')
    return pageJson.page(page)
  })

  app.get('/chats/:id', {
    schema: {
      operationId: 'getChat',
      summary: 'Read a chat session',
      description: 'Answers the chat with its `ETag`; an `If-None-Match` that names the current ETag gets 304 with no body.',
      tags,
      security,
      params: ChatIdParamsSchema,
      headers: Type.Object({ 'if-none-match': Type.Optional(Type.String({ description: 'ETags the client holds, or `*`.' })) }),
      response: {
        200: chatResponse('The chat.'),
        304: { description: 'Not modified: the client\'s copy is current. No body.', type: 'null', headers: { ETag } },
        ...problemResponses('unauthorized', 'notFound', 'rateLimited', 'unavailable', 'internal')
      }
    }
  }, async (request, reply) => {
    const chat = await store.get(request.owner, request.params.id)
    if (chat === undefined) throw notFound()
    reply.header('etag', etagOf(chat.version))
    // A 304 has no body, which only send() with nothing gives (a returned null is the JSON `null`):
    // the schema's `type: 'null'` is what tells the document so, and types send()'s argument as null.
    // eslint-disable-next-line no-restricted-syntax
    if (noneMatchHits(request.headers['if-none-match'], chat.version)) return reply.code(304).send(undefined as unknown as null)
    return chat
  })

  app.get('/chats/:id/history', {
    schema: {
      operationId: 'getChatHistory',
      summary: 'Read the kept versions of a chat session',
      description: 'The chat\'s last HISTORY_VERSIONS versions, oldest first (the current one last), each as it was then, by `limit` and `cursor`. A deleted chat has no history: 404.',
      tags,
      security,
      params: ChatIdParamsSchema,
      querystring: HistoryQuerySchema,
      response: {
        200: { description: 'A page of versions.', content: json(Type.Ref('HistoryPage')) },
        ...problemResponses('validation', 'unauthorized', 'notFound', 'rateLimited', 'unavailable', 'internal')
      }
    }
  }, async (request) => {
    // The schema fills limit's default; the type cannot say so.
    const { limit = 20, cursor } = request.query
    return await store.history(request.owner, request.params.id, cursor === undefined ? { limit } : { limit, cursor })
  })

  app.patch('/chats/:id', {
    schema: {
      operationId: 'updateChat',
      summary: 'Update some fields of a chat session',
      description: 'Partial update: any non-empty subset of the writable fields, as `application/json` or `application/merge-patch+json`.',
      tags,
      security,
      params: ChatIdParamsSchema,
      headers: IfMatch,
      body: ChatPatchRef,
      consumes: ['application/json', 'application/merge-patch+json'],
      response: {
        200: chatResponse('The updated chat.'),
        ...problemResponses('validation', 'malformedJson', 'unauthorized', 'notFound', 'preconditionFailed', 'payloadTooLarge', 'unsupportedMediaType', 'rateLimited', 'unavailable', 'capacityExceeded', 'internal')
      }
    }
  }, async (request, reply) => {
    const chat = await store.update(request.owner, request.params.id, request.body, { ifVersion: parseIfMatch(request.headers['if-match']) })
    reply.header('etag', etagOf(chat.version))
    return chat
  })

  app.put('/chats/:id', {
    schema: {
      operationId: 'replaceChat',
      summary: 'Replace the writable fields of a chat session',
      description: '`title` is required; omitted fields go back to their defaults. Does not create.',
      tags,
      security,
      params: ChatIdParamsSchema,
      headers: IfMatch,
      body: ChatInputRef,
      response: {
        200: chatResponse('The replaced chat.'),
        ...problemResponses('validation', 'malformedJson', 'unauthorized', 'notFound', 'preconditionFailed', 'payloadTooLarge', 'unsupportedMediaType', 'rateLimited', 'unavailable', 'capacityExceeded', 'internal')
      }
    }
  }, async (request, reply) => {
    const chat = await store.replace(request.owner, request.params.id, request.body, { ifVersion: parseIfMatch(request.headers['if-match']) })
    reply.header('etag', etagOf(chat.version))
    return chat
  })

  app.delete('/chats/:id', {
    schema: {
      operationId: 'deleteChat',
      summary: 'Delete a chat session',
      description: 'Deletes the chat. Its id is never used again.',
      tags,
      security,
      params: ChatIdParamsSchema,
      headers: IfMatch,
      response: {
        204: { description: 'Deleted.', type: 'null' },
        // A DELETE may carry a body (Fastify reads it): one that is not JSON, too large or of another type is refused.
        ...problemResponses('validation', 'malformedJson', 'unauthorized', 'notFound', 'preconditionFailed', 'payloadTooLarge', 'unsupportedMediaType', 'rateLimited', 'unavailable', 'internal')
      }
    }
  }, async (request, reply) => {
    await store.delete(request.owner, request.params.id, { ifVersion: parseIfMatch(request.headers['if-match']) })
    reply.code(204)
    return null
  })
}

export default chatsRoutes
