import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import { ChatInputSchema, ChatPatchSchema, ChatSchema, PrioritySchema } from '../src/schemas/chat.js'
import type { Chat, ChatInput, ChatPatch } from '../src/store/chat-store.js'

/**
 * The write floor: bare Fastify answering the load test's single-chat requests (get, create,
 * patch, replace, delete) from a Map, through the service's own body and response schemas, and
 * nothing else: no lock, indexes, validation beyond the schema, logging, hooks, rate limits or
 * metrics. It is what Fastify itself costs a request of each kind on this machine, so its ratio
 * to the ceiling (`npm run load -- --floor`) is the most any Fastify service could reach there.
 * Not a store: it keeps no limits, checks no If-Match and keeps the text as sent.
 */
export async function startFloor (chats: Chat[], port: number, host = '127.0.0.1'): Promise<{ url: string, close: () => Promise<void> }> {
  const byId = new Map(chats.map((c) => [c.id, c]))
  // Bodies are checked as strictly as the service checks them (every error, no stripping or
  // coercion); the schemas' own rule keyword (`x-chat-text`) is known to Ajv here but checks nothing.
  const strict = { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: false, keywords: ['x-chat-text'] }
  const app = Fastify({ logger: false, ajv: { customOptions: strict } })
  app.addSchema(PrioritySchema)
  app.addSchema(ChatSchema)
  const one = { 200: { $ref: 'Chat' } }
  type ById = { Params: { id: string } }

  app.get<ById>('/chats/:id', { schema: { response: one } }, async (request, reply) => {
    return byId.get(request.params.id) ?? await reply.code(404).send()
  })
  app.post<{ Body: ChatInput }>('/chats', { schema: { body: ChatInputSchema, response: { 201: { $ref: 'Chat' } } } }, async (request, reply) => {
    const at = new Date().toISOString()
    const chat: Chat = { id: randomUUID(), description: '', priority: 'medium', isActive: true, ...request.body, createdAt: at, updatedAt: at, version: 1 }
    byId.set(chat.id, chat)
    return await reply.code(201).header('location', `/chats/${chat.id}`).send(chat)
  })
  const update = (id: string, fields: ChatPatch): Chat | undefined => {
    const old = byId.get(id)
    if (old === undefined) return undefined
    const chat = { ...old, ...fields, updatedAt: new Date().toISOString(), version: old.version + 1 }
    byId.set(id, chat)
    return chat
  }
  app.patch<ById & { Body: ChatPatch }>('/chats/:id', { schema: { body: ChatPatchSchema, response: one } }, async (request, reply) => {
    return update(request.params.id, request.body) ?? await reply.code(404).send()
  })
  app.put<ById & { Body: ChatInput }>('/chats/:id', { schema: { body: ChatInputSchema, response: one } }, async (request, reply) => {
    return update(request.params.id, { description: '', priority: 'medium', isActive: true, ...request.body }) ?? await reply.code(404).send()
  })
  app.delete<ById>('/chats/:id', async (request, reply) => {
    return await reply.code(byId.delete(request.params.id) ? 204 : 404).send()
  })
  const url = await app.listen({ port, host })
  return { url, close: async () => { await app.close() } }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: floor.ts <chats.json>')
  const chats = JSON.parse(readFileSync(file, 'utf8')) as Chat[]
  const { close } = await startFloor(chats, Number(process.env.PORT ?? 3002))
  process.once('SIGTERM', () => { void close().then(() => process.exit(0)) })
}
