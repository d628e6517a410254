import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { DATA_SECURITY } from '../plugins/swagger.js'
import { ChangesHeadersSchema, ChangesQuerySchema } from '../schemas/changes.js'
import { problemResponses } from '../schemas/problem.js'

const wantsEvents = (accept: string | undefined): boolean => accept !== undefined && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept)

/** `GET /changes`: the owner's change feed, as pages or as an event stream. */
const changesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app

  app.get('/changes', {
    schema: {
      operationId: 'listChanges',
      summary: 'Follow the owner\'s changes',
      description: 'The owner\'s changes, oldest first, after `after`, as a page. With `Accept: text/event-stream`, a live feed (Server-Sent Events): each change an event with `id: <seq>`, `event: <type>` and the change as JSON `data`, a comment at least every 15 s; it resumes after `Last-Event-ID` (or `after`) with none missed and none twice, then goes on live; without either it starts from now. A client too slow to keep up is disconnected. An `after` older than the changes kept: 410, list the chats again.',
      tags: ['changes'],
      security: DATA_SECURITY,
      querystring: ChangesQuerySchema,
      headers: ChangesHeadersSchema,
      response: {
        200: {
          description: 'A page of changes, or the event stream.',
          headers: {
            'Cache-Control': { type: 'string', description: 'On the event stream: `no-cache, no-transform`.' },
            'X-Accel-Buffering': { type: 'string', description: 'On the event stream: `no`, so that a proxy (nginx) passes events through as they come.' }
          },
          content: {
            'application/json': { schema: Type.Ref('ChangePage') },
            'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events: `id: <seq>`, `event: created|updated|deleted`, `data: <the change as JSON>`.' } }
          }
        },
        ...problemResponses('validation', 'unauthorized', 'changesExpired', 'rateLimited', 'unavailable', 'internal')
      }
    }
  }, async (request, reply) => {
    if (wantsEvents(request.headers.accept)) {
      // The stream hijacks the reply: what the handler answers then is ignored.
      await app.changeStreams.open(request, reply, request.headers['last-event-id'] ?? request.query.after)
      return undefined
    }
    return await store.changes(request.owner, request.query.after, request.query.limit ?? 100)
  })
}

export default changesRoutes
