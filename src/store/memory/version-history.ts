import { invalidError } from '../errors.js'
import { isoTime } from '../iso-time.js'
import { toChat, type ChatRecord } from '../records.js'
import type { HistoryEntry, HistoryPage, HistoryQuery } from '../types.js'

const CURSOR = /^v(\d{1,10})$/

/**
 * Each chat's last `max` versions, the current one included: the older ones are kept by chat
 * (records are never mutated, so a version is the record a write replaced), the current one is
 * the store's. A chat never updated costs nothing here; with `max` 0 or 1, no chat does.
 */
export class VersionHistory {
  private older = new Map<string, ChatRecord[]>()

  constructor (readonly max: number) {}

  /** The version `replaced(id)` would drop to keep at most `max`. */
  wouldDrop (id: string): ChatRecord | undefined {
    const list = this.older.get(id)
    return list !== undefined && list.length >= this.max - 1 ? list[0] : undefined
  }

  /** A write replaced `before` with a newer version. Call with the write lock held. */
  replaced (before: ChatRecord): void {
    if (this.max < 2) return
    let list = this.older.get(before.id)
    if (list === undefined) this.older.set(before.id, list = [])
    list.push(before)
    if (list.length > this.max - 1) list.shift()
  }

  /** Takes back the latest `replaced` of a chat; answers the version taken out. */
  undoReplaced (id: string): ChatRecord | undefined {
    const list = this.older.get(id)
    const version = list?.pop()
    if (list?.length === 0) this.older.delete(id)
    return version
  }

  /** Forgets a deleted chat's older versions; answers them. */
  deleted (id: string): readonly ChatRecord[] {
    const list = this.older.get(id) ?? []
    this.older.delete(id)
    return list
  }

  page (current: ChatRecord, query: HistoryQuery): HistoryPage {
    let after = 0
    if (query.cursor !== undefined) {
      const match = CURSOR.exec(query.cursor)
      if (match === null) throw invalidError([{ source: 'query', field: '/cursor', message: 'must be a nextCursor of this chat\'s history' }])
      after = Number(match[1])
    }
    const versions = this.max === 0 ? [] : [...(this.older.get(current.id) ?? []), current]
    const items: HistoryEntry[] = []
    let i = versions.findIndex((v) => v.version > after)
    if (i < 0) i = versions.length
    for (; i < versions.length && items.length < query.limit; i++) {
      const v = versions[i]!
      items.push({ version: v.version, type: v.version === 1 ? 'created' : 'updated', at: isoTime(v.updatedAt), chat: toChat(v) })
    }
    return { items, limit: query.limit, nextCursor: i < versions.length ? `v${items.at(-1)!.version}` : null }
  }

  /** Every older version kept, for a snapshot (a copy). Call with the write lock held. */
  versions (): ChatRecord[] {
    const all: ChatRecord[] = []
    for (const list of this.older.values()) all.push(...list)
    return all
  }

  /** Recovery: the older versions of chats that exist, each chat's in version order. */
  restore (older: Map<string, ChatRecord[]>): void {
    this.older = new Map()
    if (this.max < 2) return
    for (const [id, list] of older) {
      const kept = list.slice(-(this.max - 1))
      if (kept.length > 0) this.older.set(id, kept)
    }
  }

  /** Chats with older versions kept and those versions, for tests and figures. */
  get size (): { chats: number, versions: number } {
    let versions = 0
    for (const list of this.older.values()) versions += list.length
    return { chats: this.older.size, versions }
  }
}
