import type { ChatBackend } from './backend.js'
import { chatFields, checkListQuery, checkPatch } from './rules.js'

/**
 * The store every route talks to: the backend-neutral layer. It applies the store's rules
 * (`rules.ts`: validation, defaults, list-query rules) and hands checked calls to its backend
 * (`backend.ts`: memory, durable, or another), which keeps the chats and makes every write atomic.
 * A new backend changes no route. Errors are `StoreError`s (`errors.ts`).
 */
export const PRIORITIES = ['low', 'medium', 'high'] as const
export type Priority = typeof PRIORITIES[number]

/** A chat session as clients see it. */
export interface Chat {
  id: string
  title: string
  description: string
  priority: Priority
  isActive: boolean
  createdAt: string
  updatedAt: string
  version: number
}

/** The writable fields. `create` and `replace` take this; omitted optional fields take their defaults. */
export interface ChatInput {
  title: string
  description?: string
  priority?: Priority
  isActive?: boolean
}

/** A chat's writable fields, every one given: what a backend stores on a create or a replace. */
export type ChatFields = Required<ChatInput>

/** A partial update: at least one field. */
export type ChatPatch = Partial<ChatInput>

export interface WriteOptions {
  /**
   * The versions the caller's `If-Match` names. Absent: unconditional. When given and the chat's
   * current version is not among them, the write fails with a precondition problem and changes nothing.
   */
  ifVersion?: readonly number[]
}

export const SORT_FIELDS = ['createdAt', 'updatedAt', 'priority', 'title'] as const
export type SortField = typeof SORT_FIELDS[number]
export interface SortKey { field: SortField, descending: boolean }

export interface ListQuery {
  priority?: Priority[]
  isActive?: boolean
  /** Inclusive, epoch milliseconds. */
  createdFrom?: number
  /** Exclusive, epoch milliseconds. */
  createdTo?: number
  q?: string
  sort?: SortKey[]
  limit: number
  offset?: number
  cursor?: string
}

export interface ListPage {
  items: Chat[]
  total: number
  limit: number
  offset?: number
  nextCursor: string | null
}

/** What metrics and readiness read of a store. */
export interface StoreHealth {
  /** Serving reads and writes. False while recovering, read-only after a disk error, or closed. */
  ready: boolean
  /** Why the store is not ready, when it is not. */
  detail?: string
  /** Still loading its data at start (a durable backend): every call answers `unavailable` until done. */
  recovering: boolean
  /** Refusing writes after a disk error until it can write again; reads go on. */
  readOnly: boolean
  items: number
  maxItems: number
  /** Backend-specific figures, where the backend has them. */
  bytes?: number
  maxBytes?: number
  /** Acquisitions of the backend's lock that had to wait, their total wait, and the waits that timed out. */
  lock?: { waits: number, waitMs: number, timeouts: number }
}

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
