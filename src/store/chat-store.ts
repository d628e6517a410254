import type { LockStats } from './rw-lock.js'

/**
 * The store interface every route talks to. Backends (the in-memory one today) implement it;
 * a new backend changes no route. Every method is async, and every write is atomic.
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

export interface StoreStats {
  items: number
  maxItems: number
  bytes: number
  maxBytes: number
  /** The store's lock, when it has one: waits, total wait and timeouts so far. */
  lock?: LockStats
  /** Durable backend: writes are refused (a failed append or sync) until the disk takes them again; reads go on. */
  readOnly?: boolean
  /** Durable backend: still loading its data at start; every call answers 503 until it is done. */
  recovering?: boolean
  /** Why the store is not fully serving, when it is not. */
  detail?: string
}

export interface ChatStore {
  create (input: ChatInput): Promise<Chat>
  /** `undefined` when there is no such chat. */
  get (id: string): Promise<Chat | undefined>
  list (query: ListQuery): Promise<ListPage>
  update (id: string, patch: ChatPatch, options?: WriteOptions): Promise<Chat>
  replace (id: string, input: ChatInput, options?: WriteOptions): Promise<Chat>
  delete (id: string, options?: WriteOptions): Promise<void>
  count (): Promise<number>
  stats (): StoreStats
  close (): Promise<void>
}
