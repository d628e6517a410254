/** The store's types, as every layer sees them: a chat, its input, a list query and its page, the store's health. */
/** The owner of every call when access control is off (`AUTH_MODE=none`), and of data written before owners existed. */
export const DEFAULT_OWNER = 'default'

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
