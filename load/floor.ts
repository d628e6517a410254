import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import { ChatInputSchema, ChatPageSchema, ChatPatchSchema, ChatSchema, PrioritySchema } from '../src/schemas/chat.js'
import { LIMIT_DEFAULT, ListQuerySchema, type ListQueryString } from '../src/schemas/list-query.js'
import type { Chat, ChatInput, ChatPatch, ListPage } from '../src/store/types.js'

/**
 * The floor: bare Fastify answering every request of the load test (get, create, patch, replace,
 * delete, list) from a Map, through the service's own query, body and response schemas, and
 * nothing else: no lock, indexes, validation beyond the schemas, logging, hooks, rate limits or
 * metrics. It is what Fastify itself costs a request of each kind on this machine, so its ratio
 * to the ceiling (`npm run load -- --floor`) is the most any Fastify service could reach there.
 * Not a store: it keeps no limits, checks no If-Match and keeps the text as sent; a list URL is
 * answered with a page worked out the first time it is asked (filters `priority` and `isActive`,
 * the first sort key, `limit`) and kept, so a list costs Fastify and the page's JSON, no query.
 */
export async function startFloor (chats: Chat[], port: number, host = '127.0.0.1'): Promise<{ url: string, close: () => Promise<void> }> {
  const byId = new Map(chats.map((c) => [c.id, c]))
  // Every error reported and nothing stripped, as the service checks; query strings coerced as the
  // service's are. The schemas' own rule keyword (`x-chat-text`) is known to Ajv here but checks nothing.
  const options = { allErrors: true, removeAdditional: false, coerceTypes: 'array' as const, useDefaults: true, keywords: ['x-chat-text'] }
  const app = Fastify({ logger: false, ajv: { customOptions: options } })
  app.addSchema(PrioritySchema)
  app.addSchema(ChatSchema)
  app.addSchema(ChatPageSchema)
  const pages = new Map<string, ListPage>()
  app.get<{ Querystring: ListQueryString }>('/chats', { schema: { querystring: ListQuerySchema, response: { 200: { $ref: 'ChatPage' } } } }, async (request) => {
    let page = pages.get(request.url)
    if (page === undefined) pages.set(request.url, page = pageOf([...byId.values()], request.query))
    return page
  })
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

const RANK = { low: 0, medium: 1, high: 2 }

/** A naive page: filter, sort by the first key (ties by id), cut. */
function pageOf (chats: Chat[], query: ListQueryString): ListPage {
  const priorities = query.priority?.flatMap((p) => p.split(','))
  const matches = chats.filter((c) => (priorities === undefined || priorities.includes(c.priority)) && (query.isActive === undefined || c.isActive === query.isActive))
  const [key = 'createdAt'] = (query.sort ?? '').split(',').filter(Boolean)
  const field = key.replace('-', '') as 'createdAt' | 'updatedAt' | 'title' | 'priority'
  const value = (c: Chat): string | number => field === 'priority' ? RANK[c.priority] : field === 'title' ? c.title.toLowerCase() : c[field]
  const order = (a: Chat, b: Chat): number => { const x = value(a); const y = value(b); return x < y ? -1 : x > y ? 1 : 0 }
  const sign = key.startsWith('-') ? -1 : 1
  matches.sort((a, b) => sign * order(a, b) || (a.id < b.id ? -1 : 1))
  const limit = query.limit ?? LIMIT_DEFAULT
  return { items: matches.slice(0, limit), total: matches.length, limit, nextCursor: matches.length > limit ? 'floor' : null }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: floor.ts <chats.json>')
  const chats = JSON.parse(readFileSync(file, 'utf8')) as Chat[]
  const { close } = await startFloor(chats, Number(process.env.PORT ?? 3002))
  process.once('SIGTERM', () => { void close().then(() => process.exit(0)) })
}
