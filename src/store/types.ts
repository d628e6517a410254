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

/** What a write did, as the change feed and the history name it. */
export const CHANGE_TYPES = ['created', 'updated', 'deleted'] as const
export type ChangeType = typeof CHANGE_TYPES[number]

/** One change of an owner's feed, as clients see it. */
export interface ChangeEvent {
  /** Opaque; an owner's seqs order as plain strings (code unit order) in the order the writes took effect. */
  seq: string
  type: ChangeType
  id: string
  /** The chat's version after the write; for a delete, the version it had. */
  version: number
  /** RFC 3339: when the write took effect. */
  at: string
  /** The chat after the write; absent on `deleted`. */
  chat?: Chat
}

export interface ChangePage {
  items: ChangeEvent[]
  /**
   * Where the next page starts (`after`): the last item's seq, or with no items the owner's
   * current position, so that following from it misses nothing newer. Always a string.
   */
  nextAfter: string
}

/** One kept version of a chat. */
export interface HistoryEntry {
  version: number
  type: Exclude<ChangeType, 'deleted'>
  /** RFC 3339: when this version was written (its `updatedAt`). */
  at: string
  chat: Chat
}

export interface HistoryQuery {
  limit: number
  /** The `nextCursor` of an earlier page of the same chat's history. */
  cursor?: string
}

export interface HistoryPage {
  items: HistoryEntry[]
  limit: number
  nextCursor: string | null
}

/**
 * An `Idempotency-Key` with its request: `fingerprint` identifies the body (a hash of its
 * canonical JSON), so that the same key with another body can be told apart.
 */
export interface IdempotencyKey {
  key: string
  fingerprint: string
}

export interface CreateResult {
  /** The chat created; on a replay, the chat as the first create answered it. */
  chat: Chat
  /** True when the key's kept answer was given again and nothing was created. */
  replayed: boolean
}

export type ChangeListener = (change: ChangeEvent) => void
