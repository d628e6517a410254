import type { ChatBackend } from './backend.js'
import { chatFields, checkListQuery, checkPatch } from './rules.js'
import type { Chat, ChatInput, ChatPatch, ListPage, ListQuery, StoreHealth, WriteOptions } from './types.js'

/**
 * The store every route talks to: the backend-neutral layer. It applies the store's rules
 * (`rules.ts`: validation, defaults, list-query rules) and hands checked calls to its backend
 * (`backend.ts`: memory, durable, or another), which keeps the chats and makes every write atomic.
 * A new backend changes no route. Errors are `StoreError`s (`errors.ts`).
 */
export class ChatStore<Backend extends ChatBackend = ChatBackend> {
  constructor (readonly backend: Backend) {}

  async create (input: ChatInput): Promise<Chat> {
    return await this.backend.create(chatFields(input))
  }

  /** `undefined` when there is no such chat (also for a string that is no chat id). */
  async get (id: string): Promise<Chat | undefined> {
    return await this.backend.get(id)
  }

  async list (query: ListQuery): Promise<ListPage> {
    return await this.backend.list(checkListQuery(query))
  }

  async update (id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    return await this.backend.update(id, checkPatch(patch), options)
  }

  async replace (id: string, input: ChatInput, options: WriteOptions = {}): Promise<Chat> {
    return await this.backend.replace(id, chatFields(input), options)
  }

  async delete (id: string, options: WriteOptions = {}): Promise<void> {
    await this.backend.delete(id, options)
  }

  async count (): Promise<number> {
    return await this.backend.count()
  }

  async health (): Promise<StoreHealth> {
    return await this.backend.health()
  }

  async close (): Promise<void> {
    await this.backend.close()
  }
}
