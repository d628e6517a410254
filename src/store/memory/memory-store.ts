import type { ChatBackend } from '../backend.js'
import { ChatStore } from '../chat-store.js'
import type { Chat, ChangeListener, ChangePage, ChatFields, ChatPatch, CreateResult, HistoryPage, HistoryQuery, IdempotencyKey, ListPage, ListQuery, StoreHealth, WriteOptions } from '../types.js'
import { chatNotFound, StoreError } from '../errors.js'
import { createIdGenerator, type IdGenerator } from '../ids.js'
import { feedRecordOf, toChat, type Change, type ChatRecord, type FeedRecord, type Journal, type KeptKey } from '../records.js'
import { ChangeFeeds, type FeedState } from './change-feed.js'
import { IdempotencyKeys } from './idempotency-keys.js'
import { VersionHistory } from './version-history.js'
import { RwLock } from '../rw-lock.js'
import { checkVersion, mergePatch } from '../rules.js'
import { CursorCodec } from './cursor.js'
import { ChatIndexes } from './indexes.js'
import type { IndexCapture, IndexImage } from './index-image.js'
import { runQuery } from './query-planner.js'

export interface MemoryStoreOptions {
  maxItems: number
  /** One owner holds at most this many chats; 0 or absent: only `maxItems`. */
  maxItemsPerOwner?: number
  /** Budget for the store's data in estimated bytes; 0 turns the memory guard off. */
  maxBytes: number
  lockTimeoutMs: number
  /** Fail loudly when a store operation asks for the lock it already holds (tests and development; off in production). */
  detectReentrance?: boolean
  now?: () => number
  ids?: IdGenerator
  /** Durability: told of every change inside the write lock, after every check and before the map changes. */
  journal?: Journal
  /** Key of the HMAC that signs list cursors; random per store when absent. */
  cursorKey?: Buffer
  /** Entries per chunk of the ordered indexes (tests make it small to exercise splits and merges). */
  indexChunk?: number
  /** A pino-compatible logger: `list` names its query plan at debug level. */
  queryLog?: { debug: (obj: object, msg: string) => void }
  /** Versions kept per chat for `history`, the current one included (HISTORY_VERSIONS); 0: off. Default 0. */
  historyVersions?: number
  /** Changes kept per owner for `changes` (CHANGES_RETAIN). Default 10,000. */
  changesRetain?: number
  /** How long an idempotency key is kept (IDEMPOTENCY_TTL_S). Default a day. */
  idempotencyTtlMs?: number
}

/** What the store keeps besides the chats, as a snapshot saves it and recovery gives it back. */
export interface StoreExtras {
  feeds: FeedState
  /** Older versions of chats (the current ones are the chats), each chat's in version order. */
  versions: ChatRecord[]
  keys: KeptKey[]
}

/** The Retry-After of a create whose key is in flight. */
const IN_FLIGHT_RETRY_S = 1

/**
 * The memory guard's estimate of what one chat costs: a fixed part for the record, its map entry,
 * its id and its index entries (full text included), plus its strings as V8 keeps them (one byte a character when every character is
 * Latin-1, two otherwise). Deterministic, so that the same chats always add up to the same figure;
 * calibrated on the measured heap (`scripts/measure-memory.ts`, README "Holding up under load").
 */
export const RECORD_OVERHEAD_BYTES = 885
// eslint-disable-next-line no-control-regex
const TWO_BYTE = /[^\u0000-\u00ff]/
const stringBytes = (s: string): number => TWO_BYTE.test(s) ? 2 * s.length : s.length
export function estimateBytes (title: string, description: string): number {
  return RECORD_OVERHEAD_BYTES + stringBytes(title) + stringBytes(description)
}

/**
 * The same for an older version kept for a chat's history: the record and its strings (as if
 * not shared with the newer version). Calibrated like `RECORD_OVERHEAD_BYTES` (`MEASURE_HISTORY`).
 */
export const VERSION_OVERHEAD_BYTES = 180
const versionBytes = (r: ChatRecord): number => VERSION_OVERHEAD_BYTES + stringBytes(r.title) + stringBytes(r.description)

/**
 * The `Chat` objects of recently listed chats, by record: a page of chats asked again (the first
 * page of a common query) is answered with the same objects, so their JSON can be cached by object
 * (`ChatJsonCache`). A record is never changed (a write swaps in a new one), so a view is never
 * stale; a write drops the view of the record it replaces or deletes, so the cache keeps no
 * record alive. At most `max` views (about 200 bytes each beyond the strings they share with the
 * records); the oldest go first. The views are frozen: every answer that shows them shares them.
 */
class ChatViews {
  private readonly views = new Map<ChatRecord, Chat>()

  constructor (private readonly max: number) {}

  of (record: ChatRecord): Chat {
    let chat = this.views.get(record)
    if (chat === undefined) {
      chat = Object.freeze(toChat(record))
      if (this.views.size >= this.max) this.views.delete(this.views.keys().next().value!)
      this.views.set(record, chat)
    }
    return chat
  }

  drop (record: ChatRecord): void {
    this.views.delete(record)
  }

  clear (): void {
    this.views.clear()
  }
}

/** What an owner without chats lists from: never written to. */
const NO_CHATS = new ChatIndexes()

/** A store on the memory backend (`store.backend`). */
export type MemoryStore = ChatStore<MemoryChatStore>

export function createMemoryStore (options: MemoryStoreOptions): MemoryStore {
  return new ChatStore(new MemoryChatStore(options))
}

/**
 * The memory backend: the chats and their indexes in this process, every write under one lock.
 * Each owner has indexes of their own, so that a list costs what its owner holds and can meet no
 * other owner's chat.
 */
export class MemoryChatStore implements ChatBackend {
  /** Each owner's chats (by id, through the indexes' map of ids to rows) and query indexes, changed only with the write lock held. */
  private owners = new Map<string, ChatIndexes>()
  /** The chats of every owner. */
  private items = 0
  private readonly cursors: CursorCodec
  private readonly views = new ChatViews(1024)
  private readonly lock: RwLock
  private readonly now: () => number
  private readonly nextId: IdGenerator
  private bytes = 0
  readonly feeds: ChangeFeeds
  readonly versions: VersionHistory
  readonly keys: IdempotencyKeys

  constructor (private readonly options: MemoryStoreOptions) {
    this.lock = new RwLock(options.lockTimeoutMs, { detectReentrance: options.detectReentrance ?? false })
    this.now = options.now ?? Date.now
    this.nextId = options.ids ?? createIdGenerator(this.now)
    this.cursors = new CursorCodec(options.cursorKey)
    this.feeds = new ChangeFeeds(options.changesRetain ?? 10_000, this.now)
    this.versions = new VersionHistory(options.historyVersions ?? 0)
    this.keys = new IdempotencyKeys(options.idempotencyTtlMs ?? 86_400_000)
  }

  async create (owner: string, fields: ChatFields, idempotency?: IdempotencyKey): Promise<CreateResult> {
    if (idempotency === undefined) return { chat: await this.committed(await this.insert(owner, fields, undefined)), replayed: false }
    const { key, fingerprint } = idempotency
    // In flight first: the key is kept (in the write lock) before its create is durable.
    if (!this.keys.begin(owner, key)) {
      throw new StoreError('keyInFlight', 'A create with this Idempotency-Key is still being processed', { retryAfterSeconds: IN_FLIGHT_RETRY_S })
    }
    try {
      const kept = this.keys.get(owner, key, this.now())
      if (kept !== undefined) {
        if (kept.fingerprint !== fingerprint) throw new StoreError('keyReused', 'This Idempotency-Key was used with another request body')
        return { chat: toChat(kept.chat), replayed: true }
      }
      return { chat: await this.committed(await this.insert(owner, fields, idempotency)), replayed: false }
    } finally {
      this.keys.end(owner, key)
    }
  }

  /** The change feed of `owner` after `after` (see `ChatBackend.changes`). */
  async changes (owner: string, after: string | undefined, limit: number): Promise<ChangePage> {
    return await this.lock.withRead(() => this.feeds.page(owner, after, limit))
  }

  async history (owner: string, id: string, query: HistoryQuery): Promise<HistoryPage> {
    return await this.lock.withRead(() => {
      const record = this.owners.get(owner)?.get(id)
      if (record === undefined) throw chatNotFound()
      return this.versions.page(record, query)
    })
  }

  subscribe (owner: string, listener: ChangeListener): () => void {
    return this.feeds.subscribe(owner, listener)
  }

  /** Waits until the write's change is durable (with a journal that says when), publishes it, and answers `result`. */
  private async committed<T> ({ result, seq }: { result: T, seq: number }): Promise<T> {
    const durable = this.options.journal?.durable?.()
    if (durable !== undefined) await durable
    this.feeds.publish(seq)
    return result
  }

  /** Journals a change with its seq and records it in the feed (and the history). Call with the write lock held, after every check. */
  private journal (change: Change, before: ChatRecord | undefined): void {
    this.options.journal?.append(change, before)
    this.feeds.record(feedRecordOf(change, before)!)
    if (change.op === 'put' && before !== undefined) this.versions.replaced(before)
    if (change.op === 'delete') for (const version of this.versions.deleted(change.id)) this.bytes -= versionBytes(version)
  }

  private async insert (owner: string, fields: ChatFields, idempotency: IdempotencyKey | undefined): Promise<{ result: Chat, seq: number }> {
    return await this.lock.withWrite(() => {
      if (this.items >= this.options.maxItems) {
        throw new StoreError('capacity', `The store holds its maximum of ${this.options.maxItems} chats`)
      }
      const perOwner = this.options.maxItemsPerOwner ?? 0
      if (perOwner > 0 && (this.owners.get(owner)?.size ?? 0) >= perOwner) {
        throw new StoreError('capacity', `The owner holds their quota of ${perOwner} chats`)
      }
      const size = estimateBytes(fields.title, fields.description)
      this.reserveBytes(size, 0)
      const now = this.now()
      const record: ChatRecord = { owner, id: this.nextId(), title: fields.title, description: fields.description, priority: fields.priority, isActive: fields.isActive, createdAt: now, updatedAt: now, version: 1 }
      const seq = this.feeds.next()
      if (idempotency === undefined) {
        this.journal({ op: 'put', chat: record, seq }, undefined)
      } else {
        this.keys.sweep(now)
        const key = { key: idempotency.key, fingerprint: idempotency.fingerprint, expiresAt: now + this.keys.ttlMs }
        this.journal({ op: 'put', chat: record, seq, key }, undefined)
        this.keys.add({ ...key, chat: record })
      }
      this.indexesOf(owner).add(record)
      this.items++
      this.bytes += size
      return { result: toChat(record), seq }
    })
  }

  async get (owner: string, id: string): Promise<Chat | undefined> {
    return await this.lock.withRead(() => {
      const record = this.owners.get(owner)?.get(id)
      return record === undefined ? undefined : toChat(record)
    })
  }

  async list (owner: string, query: ListQuery): Promise<ListPage> {
    return await this.lock.withRead(() => {
      const { records, total, offset, nextCursor, plan } = runQuery(this.owners.get(owner) ?? NO_CHATS, this.cursors, query, owner)
      this.options.queryLog?.debug({ plan, total }, 'list query plan')
      const items: Chat[] = []
      for (const record of records) items.push(this.views.of(record))
      const page: ListPage = { items, total, limit: query.limit, nextCursor }
      if (offset !== undefined) page.offset = offset
      return page
    })
  }

  async update (owner: string, id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    return await this.committed(await this.lock.withWrite(() => {
      const current = this.current(owner, id, options)
      return this.write(current, mergePatch(current, patch))
    }))
  }

  async replace (owner: string, id: string, fields: ChatFields, options: WriteOptions = {}): Promise<Chat> {
    return await this.committed(await this.lock.withWrite(() => this.write(this.current(owner, id, options), fields)))
  }

  async delete (owner: string, id: string, options: WriteOptions = {}): Promise<void> {
    await this.committed(await this.lock.withWrite(() => {
      const current = this.current(owner, id, options)
      const seq = this.feeds.next()
      this.journal({ op: 'delete', id, seq, owner, version: current.version, at: Math.max(this.now(), current.updatedAt) }, current)
      this.remove(current)
      return { result: undefined, seq }
    }))
  }

  async count (owner: string): Promise<number> {
    return this.owners.get(owner)?.size ?? 0
  }

  /** The chats of every owner, at once. */
  get size (): number {
    return this.items
  }

  async health (): Promise<StoreHealth> {
    return { ready: true, recovering: false, readOnly: false, ...this.figures() }
  }

  /** What `health` reports of the chats, the memory guard and the lock. */
  figures (): Pick<StoreHealth, 'items' | 'maxItems' | 'bytes' | 'maxBytes' | 'lock'> {
    return { items: this.items, maxItems: this.options.maxItems, bytes: this.bytes, maxBytes: this.options.maxBytes, lock: { ...this.lock.stats } }
  }

  /**
   * Checks, under the read lock, that everything the store keeps agrees with its chats, and
   * throws naming every disagreement. For tests; a new index adds its own check to `problems`.
   */
  async checkInvariants (): Promise<void> {
    await this.lock.withRead(() => {
      const broken: string[] = []
      let bytes = 0
      let items = 0
      for (const [owner, indexes] of this.owners) {
        let previous = ''
        const chats = indexes.inIdOrder()
        items += chats.length
        if (chats.length === 0) broken.push(`owner ${owner} has indexes but no chats`)
        if (chats.length !== indexes.size) broken.push(`owner ${owner}: ${chats.length} chats in id order, ${indexes.size} in the indexes`)
        for (const record of chats) {
          const { id } = record
          if (record.owner !== owner) broken.push(`chat ${id} of ${record.owner} is in the indexes of ${owner}`)
          if (id <= previous) broken.push(`chat ${id} comes after ${previous}: the chats are out of id order`)
          previous = id
          if (record.version < 1 || record.updatedAt < record.createdAt) broken.push(`chat ${id} has version ${record.version}, createdAt ${record.createdAt}, updatedAt ${record.updatedAt}`)
          bytes += estimateBytes(record.title, record.description)
        }
        const perOwner = this.options.maxItemsPerOwner ?? 0
        if (perOwner > 0 && chats.length > perOwner) broken.push(`owner ${owner} has ${chats.length} chats, over the quota of ${perOwner}`)
        broken.push(...indexes.problems())
      }
      for (const version of this.versions.versions()) bytes += versionBytes(version)
      if (items !== this.items) broken.push(`the item count is ${this.items}, the owners hold ${items}`)
      if (bytes !== this.bytes) broken.push(`the byte count is ${this.bytes}, the chats add up to ${bytes}`)
      if (items > this.options.maxItems) broken.push(`${items} chats, over the maximum of ${this.options.maxItems}`)
      if (this.options.maxBytes > 0 && this.bytes > this.options.maxBytes) broken.push(`${this.bytes} bytes, over the budget of ${this.options.maxBytes}`)
      if (broken.length > 0) throw new Error(`Store invariants broken: ${broken.join('; ')}`)
    })
  }

  async close (): Promise<void> {
    // Wait for writes in flight, so nothing acknowledged is cut short.
    await this.lock.withWrite(() => undefined)
  }

  /**
   * Recovery's bulk load: the store takes `chats` (distinct, each owner's in id order, trusted as
   * they were journaled) as its own; `count`, when known, sizes the indexes' columns at once when
   * every chat has one owner (the usual case, and the only one without auth).
   */
  restore (chats: Iterable<ChatRecord>, count = 0): void {
    const byOwner = new Map<string, ChatRecord[]>()
    for (const chat of chats) {
      let list = byOwner.get(chat.owner)
      if (list === undefined) byOwner.set(chat.owner, list = [])
      list.push(chat)
    }
    const owners = new Map<string, ChatIndexes>()
    for (const [owner, list] of byOwner) {
      const indexes = new ChatIndexes(this.options.indexChunk)
      indexes.load(list, byOwner.size === 1 ? Math.max(count, list.length) : list.length)
      owners.set(owner, indexes)
    }
    this.takeOwners(owners)
  }

  /**
   * Recovery's load from a snapshot that saved its indexes: the store takes its chats and its
   * indexes from `image` (the snapshot's chats in their slots) with `tail` (the changes logged
   * after it) merged in (`withTail`). Throws when the image does not hold together, changing
   * nothing: `restore` is then the way.
   */
  restoreImage (image: IndexImage, tail: readonly Change[]): void {
    const owner = image.records.find((r) => r !== undefined)?.owner ?? tail.find((c) => c.op === 'put')?.chat.owner
    const indexes = new ChatIndexes(this.options.indexChunk)
    indexes.loadImage(image, tail)
    for (const record of indexes.records) {
      if (record !== undefined && record.owner !== owner) throw new Error('saved indexes hold the chats of one owner; these chats have more')
    }
    this.takeOwners(owner === undefined || indexes.size === 0 ? new Map<string, ChatIndexes>() : new Map([[owner, indexes]]))
  }

  /**
   * Runs `fn` with the write lock held over every chat (each owner's in id order, which is
   * creation order): a consistent cut, for a snapshot. `image` copies the indexes as they are at
   * that cut (`indexImage` finishes the copy, off the lock); saved indexes cover one owner, so
   * with several owners there is none and a start builds them.
   */
  async withAll<T> (fn: (chats: readonly ChatRecord[], image: () => IndexCapture | undefined) => T): Promise<T> {
    return await this.lock.withWrite(() => {
      const owners = [...this.owners.values()]
      const chats = owners.length === 1 ? owners[0]!.inIdOrder() : owners.flatMap((indexes) => indexes.inIdOrder())
      return fn(chats, () => owners.length <= 1 ? (owners[0] ?? NO_CHATS).toImage() : undefined)
    })
  }

  /**
   * Takes back changes the journal took but could not keep (its write failed), newest first, each
   * with the chat it replaced or deleted: the store is as if they had never been made. The changes
   * must be the latest ones, and no write may be under way: call it from synchronous code outside
   * the store's critical sections (which never pause), as the durable store's log does.
   */
  undo (changes: readonly { change: Change, before: ChatRecord | undefined }[]): void {
    for (let i = changes.length - 1; i >= 0; i--) {
      const { change, before } = changes[i]!
      const after = change.op === 'put' ? change.chat : undefined
      const feed = feedRecordOf(change, before)
      if (feed !== undefined) this.feeds.undo(feed.seq, feed.owner)
      if (after !== undefined && before !== undefined) {
        const version = this.versions.undoReplaced(after.id)
        if (version !== undefined) this.bytes -= versionBytes(version)
      }
      if (change.op === 'put' && change.key !== undefined) this.keys.delete(change.chat.owner, change.key.key)
      if (after !== undefined) {
        if (before === undefined) {
          this.remove(after)
          continue
        }
        this.views.drop(after)
        this.bytes += estimateBytes(before.title, before.description) - estimateBytes(after.title, after.description)
        this.owners.get(after.owner)!.replace(after, before)
      } else if (before !== undefined) {
        this.indexesOf(before.owner).add(before)
        this.items++
        this.bytes += estimateBytes(before.title, before.description)
      }
    }
  }

  /** What a snapshot keeps besides the chats, copied at this cut. Call with the write lock held (inside `withAll`). */
  extras (): StoreExtras {
    return { feeds: this.feeds.state(), versions: this.versions.versions(), keys: this.keys.all() }
  }

  /**
   * Recovery, after `restore` or `restoreImage`: the feeds (their state, then `changes`, the
   * changes logged after it, in order), the older versions of the chats that exist, and the keys.
   */
  restoreExtras (extras: StoreExtras, changes: readonly FeedRecord[] = []): void {
    this.feeds.restore({ ...extras.feeds, records: changes.length === 0 ? extras.feeds.records : [...extras.feeds.records, ...changes] })
    const older = new Map<string, ChatRecord[]>()
    for (const version of extras.versions) {
      const current = this.owners.get(version.owner)?.get(version.id)
      if (current === undefined || version.version >= current.version) continue
      let list = older.get(version.id)
      if (list === undefined) older.set(version.id, list = [])
      list.push(version)
    }
    for (const list of older.values()) list.sort((a, b) => a.version - b.version)
    this.versions.restore(older)
    for (const version of this.versions.versions()) this.bytes += versionBytes(version)
    this.keys.restore(extras.keys, this.now())
  }

  /** Runs `fn` with the write lock held, so that no write goes on meanwhile (without `withAll`'s copy of every chat). */
  async exclusive<T> (fn: () => T): Promise<T> {
    return await this.lock.withWrite(fn)
  }

  private takeOwners (owners: Map<string, ChatIndexes>): void {
    let bytes = 0
    let items = 0
    for (const indexes of owners.values()) {
      items += indexes.size
      for (const record of indexes.records) if (record !== undefined) bytes += estimateBytes(record.title, record.description)
    }
    this.owners = owners
    this.items = items
    this.bytes = bytes
    this.views.clear()
  }

  /** An owner's indexes; their first chat gives them indexes of their own. Call with the write lock held. */
  private indexesOf (owner: string): ChatIndexes {
    let indexes = this.owners.get(owner)
    if (indexes === undefined) this.owners.set(owner, indexes = new ChatIndexes(this.options.indexChunk))
    return indexes
  }

  /** Takes a chat out of its owner's indexes; an owner left with none leaves the map. Call with the write lock held. */
  private remove (record: ChatRecord): void {
    const indexes = this.owners.get(record.owner)!
    indexes.remove(record)
    if (indexes.size === 0) this.owners.delete(record.owner)
    this.views.drop(record)
    this.items--
    this.bytes -= estimateBytes(record.title, record.description)
  }

  /** The owner's chat a write applies to, after its existence and its `If-Match` are checked. Call with the write lock held. */
  private current (owner: string, id: string, options: WriteOptions): ChatRecord {
    const record = this.owners.get(owner)?.get(id)
    if (record === undefined) throw chatNotFound()
    checkVersion(record.version, options)
    return record
  }

  /** Swaps in the new version of a chat. Call with the write lock held. */
  private write (current: ChatRecord, fields: ChatFields): { result: Chat, seq: number } {
    const before = estimateBytes(current.title, current.description)
    // The version replaced stays in the history (which may drop its oldest to make room).
    const dropped = this.versions.wouldDrop(current.id)
    const kept = this.versions.max < 2 ? 0 : versionBytes(current) - (dropped === undefined ? 0 : versionBytes(dropped))
    const after = estimateBytes(fields.title, fields.description) + kept
    this.reserveBytes(after, before)
    // Strictly later than the last update, also within one millisecond.
    const updatedAt = Math.max(this.now(), current.updatedAt + 1)
    const record: ChatRecord = {
      owner: current.owner,
      id: current.id,
      title: fields.title,
      description: fields.description,
      priority: fields.priority,
      isActive: fields.isActive,
      createdAt: current.createdAt,
      updatedAt,
      version: current.version + 1
    }
    const seq = this.feeds.next()
    this.journal({ op: 'put', chat: record, seq }, current)
    this.owners.get(current.owner)!.replace(current, record)
    this.views.drop(current)
    this.bytes += after - before
    return { result: toChat(record), seq }
  }

  /**
   * The memory guard: a write that grows the data (the chats and the older versions their
   * history keeps) past the budget is refused; one that shrinks it never is.
   */
  private reserveBytes (after: number, before: number): void {
    const { maxBytes } = this.options
    if (maxBytes > 0 && after > before && this.bytes + after - before > maxBytes) {
      throw new StoreError('capacity', `The store's memory budget of ${maxBytes} bytes would be exceeded`)
    }
  }
}
