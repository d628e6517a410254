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

/**
 * A change as the journal sees it: the whole chat after a write, or the id of a deleted one.
 * The memory backend's writes also give the change's place in its owner's feed (`seq`), a
 * delete's owner, version and time, and a create's idempotency key; a change without `seq`
 * (data written before the feed existed) is applied to the chats only.
 */
export type Change =
  | { op: 'put', chat: ChatRecord, seq?: number, key?: KeyRecord }
  | { op: 'delete', id: string, seq?: number, owner?: string, version?: number, at?: number }

/** An idempotency key as kept: the create's answer is `chat` (its first version). */
export interface KeyRecord {
  readonly key: string
  readonly fingerprint: string
  /** Epoch milliseconds after which the key is forgotten. */
  readonly expiresAt: number
}

/** A kept key with its owner's create. */
export interface KeptKey extends KeyRecord {
  readonly chat: ChatRecord
}

/** A change of an owner's feed as the in-process backends keep it. */
export interface FeedRecord {
  readonly seq: number
  readonly owner: string
  readonly id: string
  readonly version: number
  /** Epoch milliseconds. */
  readonly at: number
  /** The chat after the write; undefined for a delete. */
  readonly chat: ChatRecord | undefined
}

/** The feed record of a journaled change that has a `seq`. */
export function feedRecordOf (change: Change, before: ChatRecord | undefined): FeedRecord | undefined {
  if (change.seq === undefined) return undefined
  if (change.op === 'put') return { seq: change.seq, owner: change.chat.owner, id: change.chat.id, version: change.chat.version, at: change.chat.updatedAt, chat: change.chat }
  const owner = change.owner ?? before?.owner
  const version = change.version ?? before?.version
  if (owner === undefined || version === undefined) return undefined
  return { seq: change.seq, owner, id: change.id, version, at: change.at ?? before?.updatedAt ?? 0, chat: undefined }
}

export interface Journal {
  /**
   * Records the change, with the chat it replaces or deletes (`before`, none for a create), so
   * that a change the journal could not keep can be taken back (`MemoryChatStore.undo`).
   * Throwing aborts the write, which then changes nothing.
   */
  append (change: Change, before: ChatRecord | undefined): void
  /**
   * Resolves once every change appended so far is kept (undefined when it already is); rejects
   * when it cannot be. A write answers, and its change is published, only after it.
   */
  durable?: () => Promise<void> | undefined
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

/** The journal's change for a feed record. */
export function changeOf (r: FeedRecord): Change {
  return r.chat === undefined
    ? { op: 'delete', id: r.id, seq: r.seq, owner: r.owner, version: r.version, at: r.at }
    : { op: 'put', chat: r.chat, seq: r.seq }
}
