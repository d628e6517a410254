import type { Chat, Priority } from './types.js'
import { isoTime } from './iso-time.js'

/**
 * How the in-process backends (memory, durable) keep a chat: dates as epoch milliseconds, records
 * never mutated (a write swaps in a new one). The indexes, the query planner and the durable
 * log's codecs all work on these.
 */
export interface ChatRecord {
  /** Whose chat it is (`DEFAULT_OWNER` for data written before owners existed). */
  readonly owner: string
  readonly id: string
  readonly title: string
  readonly description: string
  readonly priority: Priority
  readonly isActive: boolean
  readonly createdAt: number
  readonly updatedAt: number
  readonly version: number
}

/** A change as the journal sees it: the whole chat after a write, or the id of a deleted one. */
export type Change = { op: 'put', chat: ChatRecord } | { op: 'delete', id: string }

export interface Journal {
  /**
   * Records the change, with the chat it replaces or deletes (`before`, none for a create), so
   * that a change the journal could not keep can be taken back (`MemoryChatStore.undo`).
   * Throwing aborts the write, which then changes nothing.
   */
  append (change: Change, before: ChatRecord | undefined): void
}

/** A record as clients see it (dates as RFC 3339). */
export function toChat (r: ChatRecord): Chat {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    priority: r.priority,
    isActive: r.isActive,
    createdAt: isoTime(r.createdAt),
    updatedAt: isoTime(r.updatedAt),
    version: r.version
  }
}
