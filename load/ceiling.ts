import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import { ChatSchema, PrioritySchema } from '../src/schemas/chat.js'
import type { Chat } from '../src/store/types.js'

/**
 * The ceiling: bare Fastify answering GET /chats/:id from a Map, through the service's own
 * response schema, and nothing else (no logging, hooks, lock, validation or headers). What the
 * service reaches against it, in the same run, is the figure that matters.
 */
export async function startCeiling (chats: Chat[], port: number, host = '127.0.0.1'): Promise<{ url: string, close: () => Promise<void> }> {
  const byId = new Map(chats.map((c) => [c.id, c]))
  const app = Fastify({ logger: false })
  app.addSchema(PrioritySchema)
  app.addSchema(ChatSchema)
  app.get<{ Params: { id: string } }>('/chats/:id', { schema: { response: { 200: { $ref: 'Chat' } } } }, async (request, reply) => {
    const chat = byId.get(request.params.id)
    if (chat === undefined) return await reply.code(404).send()
    return chat
  })
  const url = await app.listen({ port, host })
  return { url, close: async () => { await app.close() } }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: ceiling.ts <chats.json>')
  const chats = JSON.parse(readFileSync(file, 'utf8')) as Chat[]
  const { close } = await startCeiling(chats, Number(process.env.PORT ?? 3001))
  process.once('SIGTERM', () => { void close().then(() => process.exit(0)) })
}
