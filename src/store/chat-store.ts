import type { ChatBackend } from './backend.js'
import { chatFields, checkListQuery, checkPatch } from './rules.js'
import type { Chat, ChangeListener, ChangePage, ChatInput, ChatPatch, CreateResult, HistoryPage, HistoryQuery, IdempotencyKey, ListPage, ListQuery, StoreHealth, WriteOptions } from './types.js'

/**
 * The store every route talks to: the backend-neutral layer. It applies the store's rules
 * (`rules.ts`: validation, defaults, list-query rules) and hands checked calls to its backend
 * (`backend.ts`: memory, durable, or another), which keeps the chats and makes every write atomic.
 * Every call names its owner (from the request, never from the body), whom the backend keeps
 * apart from every other.
 * A new backend changes no route. Errors are `StoreError`s (`errors.ts`).
 */
export class ChatStore<Backend extends ChatBackend = ChatBackend> {
  constructor (readonly backend: Backend) {}

  async create (owner: string, input: ChatInput): Promise<Chat> {
    return (await this.backend.create(owner, chatFields(input))).chat
  }

  /** A create under an idempotency key (see `ChatBackend.create`): the input is checked first, so a refused one keeps no key. */
  async createOnce (owner: string, input: ChatInput, idempotency: IdempotencyKey): Promise<CreateResult> {
    return await this.backend.create(owner, chatFields(input), idempotency)
  }

  /** `undefined` when the owner has no such chat (also for a string that is no chat id). */
  async get (owner: string, id: string): Promise<Chat | undefined> {
    return await this.backend.get(owner, id)
  }

  async list (owner: string, query: ListQuery): Promise<ListPage> {
    return await this.backend.list(owner, checkListQuery(query))
  }

  async update (owner: string, id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    return await this.backend.update(owner, id, checkPatch(patch), options)
  }

  async replace (owner: string, id: string, input: ChatInput, options: WriteOptions = {}): Promise<Chat> {
    return await this.backend.replace(owner, id, chatFields(input), options)
  }

  async delete (owner: string, id: string, options: WriteOptions = {}): Promise<void> {
    await this.backend.delete(owner, id, options)
  }

  /** The owner's chats. */
  async count (owner: string): Promise<number> {
    return await this.backend.count(owner)
  }

  /** The owner's changes after `after` (see `ChatBackend.changes`). */
  async changes (owner: string, after: string | undefined, limit: number): Promise<ChangePage> {
    return await this.backend.changes(owner, after, limit)
  }

  /** The chat's kept versions, oldest first (see `ChatBackend.history`). */
  async history (owner: string, id: string, query: HistoryQuery): Promise<HistoryPage> {
    return await this.backend.history(owner, id, query)
  }

  /** Live changes of the owner; answers the unsubscribe (see `ChatBackend.subscribe`). */
  subscribe (owner: string, listener: ChangeListener): () => void {
    return this.backend.subscribe(owner, listener)
  }

  /** Of every owner's chats. */
  async health (): Promise<StoreHealth> {
    return await this.backend.health()
  }

  async close (): Promise<void> {
    await this.backend.close()
  }
}
