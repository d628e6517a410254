import type { ChatBackend } from '../backend.js'
import { ChatStore } from '../chat-store.js'
import type { Chat, ChatFields, ChatPatch, ListPage, ListQuery, StoreHealth, WriteOptions } from '../types.js'
import { chatNotFound, StoreError } from '../errors.js'
import { createIdGenerator, type IdGenerator } from '../ids.js'
import { toChat, type Change, type ChatRecord, type Journal } from '../records.js'
import { RwLock } from '../rw-lock.js'
import { checkVersion, mergePatch } from '../rules.js'
import { CursorCodec } from './cursor.js'
import { ChatIndexes } from './indexes.js'
import type { IndexCapture, IndexImage } from './index-image.js'
import { runQuery } from './query-planner.js'

export interface MemoryStoreOptions {
  maxItems: number
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
}

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

/** A store on the memory backend (`store.backend`). */
export type MemoryStore = ChatStore<MemoryChatStore>

export function createMemoryStore (options: MemoryStoreOptions): MemoryStore {
  return new ChatStore(new MemoryChatStore(options))
}

/** The memory backend: the chats and their indexes in this process, every write under one lock. */
export class MemoryChatStore implements ChatBackend {
  /** The chats (by id, through the indexes' map of ids to rows) and every query index, changed only with the write lock held. */
  private indexes: ChatIndexes
  private readonly cursors: CursorCodec
  private readonly views = new ChatViews(1024)
  private readonly lock: RwLock
  private readonly now: () => number
  private readonly nextId: IdGenerator
  private bytes = 0

  constructor (private readonly options: MemoryStoreOptions) {
    this.lock = new RwLock(options.lockTimeoutMs, { detectReentrance: options.detectReentrance ?? false })
    this.now = options.now ?? Date.now
    this.nextId = options.ids ?? createIdGenerator(this.now)
    this.cursors = new CursorCodec(options.cursorKey)
    this.indexes = new ChatIndexes(options.indexChunk)
  }

  async create (fields: ChatFields): Promise<Chat> {
    return await this.lock.withWrite(() => {
      if (this.indexes.size >= this.options.maxItems) {
        throw new StoreError('capacity', `The store holds its maximum of ${this.options.maxItems} chats`)
      }
      const size = estimateBytes(fields.title, fields.description)
      this.reserveBytes(size, 0)
      const now = this.now()
      const record: ChatRecord = { id: this.nextId(), title: fields.title, description: fields.description, priority: fields.priority, isActive: fields.isActive, createdAt: now, updatedAt: now, version: 1 }
      this.options.journal?.append({ op: 'put', chat: record }, undefined)
      this.indexes.add(record)
      this.bytes += size
      return toChat(record)
    })
  }

  async get (id: string): Promise<Chat | undefined> {
    return await this.lock.withRead(() => {
      const record = this.indexes.get(id)
      return record === undefined ? undefined : toChat(record)
    })
  }

  async list (query: ListQuery): Promise<ListPage> {
    return await this.lock.withRead(() => {
      const { records, total, offset, nextCursor, plan } = runQuery(this.indexes, this.cursors, query)
      this.options.queryLog?.debug({ plan, total }, 'list query plan')
      const items: Chat[] = []
      for (const record of records) items.push(this.views.of(record))
      const page: ListPage = { items, total, limit: query.limit, nextCursor }
      if (offset !== undefined) page.offset = offset
      return page
    })
  }

  async update (id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    return await this.lock.withWrite(() => {
      const current = this.current(id, options)
      return this.write(current, mergePatch(current, patch))
    })
  }

  async replace (id: string, fields: ChatFields, options: WriteOptions = {}): Promise<Chat> {
    return await this.lock.withWrite(() => this.write(this.current(id, options), fields))
  }

  async delete (id: string, options: WriteOptions = {}): Promise<void> {
    await this.lock.withWrite(() => {
      const current = this.current(id, options)
      this.options.journal?.append({ op: 'delete', id }, current)
      this.indexes.remove(current)
      this.views.drop(current)
      this.bytes -= estimateBytes(current.title, current.description)
    })
  }

  async count (): Promise<number> {
    return this.indexes.size
  }

  /** The chats held, at once (`count` without the promise). */
  get size (): number {
    return this.indexes.size
  }

  async health (): Promise<StoreHealth> {
    return { ready: true, recovering: false, readOnly: false, ...this.figures() }
  }

  /** What `health` reports of the chats, the memory guard and the lock. */
  figures (): Pick<StoreHealth, 'items' | 'maxItems' | 'bytes' | 'maxBytes' | 'lock'> {
    return { items: this.indexes.size, maxItems: this.options.maxItems, bytes: this.bytes, maxBytes: this.options.maxBytes, lock: { ...this.lock.stats } }
  }

  /**
   * Checks, under the read lock, that everything the store keeps agrees with its chats, and
   * throws naming every disagreement. For tests; a new index adds its own check to `problems`.
   */
  async checkInvariants (): Promise<void> {
    await this.lock.withRead(() => {
      const broken: string[] = []
      let bytes = 0
      let previous = ''
      const chats = this.indexes.inIdOrder()
      for (const record of chats) {
        const { id } = record
        if (id <= previous) broken.push(`chat ${id} comes after ${previous}: the chats are out of id order`)
        previous = id
        if (record.version < 1 || record.updatedAt < record.createdAt) broken.push(`chat ${id} has version ${record.version}, createdAt ${record.createdAt}, updatedAt ${record.updatedAt}`)
        bytes += estimateBytes(record.title, record.description)
      }
      if (chats.length !== this.indexes.size) broken.push(`${chats.length} chats in id order, ${this.indexes.size} in the indexes`)
      if (bytes !== this.bytes) broken.push(`the byte count is ${this.bytes}, the chats add up to ${bytes}`)
      if (chats.length > this.options.maxItems) broken.push(`${chats.length} chats, over the maximum of ${this.options.maxItems}`)
      if (this.options.maxBytes > 0 && this.bytes > this.options.maxBytes) broken.push(`${this.bytes} bytes, over the budget of ${this.options.maxBytes}`)
      broken.push(...this.indexes.problems())
      if (broken.length > 0) throw new Error(`Store invariants broken: ${broken.join('; ')}`)
    })
  }

  async close (): Promise<void> {
    // Wait for writes in flight, so nothing acknowledged is cut short.
    await this.lock.withWrite(() => undefined)
  }

  /**
   * Recovery's bulk load: the store takes `chats` (distinct, in id order, trusted as they were
   * journaled) as its own; `count`, when known, sizes the indexes' columns at once.
   */
  restore (chats: Iterable<ChatRecord>, count = 0): void {
    const indexes = new ChatIndexes(this.options.indexChunk)
    indexes.load(chats, count)
    this.takeIndexes(indexes)
  }

  /**
   * Recovery's load from a snapshot that saved its indexes: the store takes its chats and its
   * indexes from `image` (the snapshot's chats in their slots) with `tail` (the changes logged
   * after it) merged in (`withTail`). Throws when the image does not hold together, changing
   * nothing: `restore` is then the way.
   */
  restoreImage (image: IndexImage, tail: readonly Change[]): void {
    const indexes = new ChatIndexes(this.options.indexChunk)
    indexes.loadImage(image, tail)
    this.takeIndexes(indexes)
  }

  /**
   * Runs `fn` with the write lock held over every chat (in id order, which is creation order): a
   * consistent cut, for a snapshot. `image` copies the indexes as they are at that cut
   * (`indexImage` finishes the copy, off the lock).
   */
  async withAll<T> (fn: (chats: readonly ChatRecord[], image: () => IndexCapture) => T): Promise<T> {
    return await this.lock.withWrite(() => fn(this.indexes.inIdOrder(), () => this.indexes.toImage()))
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
      if (after !== undefined) {
        this.views.drop(after)
        this.bytes -= estimateBytes(after.title, after.description)
        if (before === undefined) this.indexes.remove(after)
        else this.indexes.replace(after, before)
      } else if (before !== undefined) {
        this.indexes.add(before)
      }
      if (before !== undefined) this.bytes += estimateBytes(before.title, before.description)
    }
  }

  /** Runs `fn` with the write lock held, so that no write goes on meanwhile (without `withAll`'s copy of every chat). */
  async exclusive<T> (fn: () => T): Promise<T> {
    return await this.lock.withWrite(fn)
  }

  private takeIndexes (indexes: ChatIndexes): void {
    let bytes = 0
    for (const record of indexes.records) if (record !== undefined) bytes += estimateBytes(record.title, record.description)
    this.indexes = indexes
    this.bytes = bytes
    this.views.clear()
  }

  /** The chat a write applies to, after its existence and its `If-Match` are checked. Call with the write lock held. */
  private current (id: string, options: WriteOptions): ChatRecord {
    const record = this.indexes.get(id)
    if (record === undefined) throw chatNotFound()
    checkVersion(record.version, options)
    return record
  }

  /** Swaps in the new version of a chat. Call with the write lock held. */
  private write (current: ChatRecord, fields: ChatFields): Chat {
    const before = estimateBytes(current.title, current.description)
    const after = estimateBytes(fields.title, fields.description)
    this.reserveBytes(after, before)
    // Strictly later than the last update, also within one millisecond.
    const updatedAt = Math.max(this.now(), current.updatedAt + 1)
    const record: ChatRecord = {
      id: current.id,
      title: fields.title,
      description: fields.description,
      priority: fields.priority,
      isActive: fields.isActive,
      createdAt: current.createdAt,
      updatedAt,
      version: current.version + 1
    }
    this.options.journal?.append({ op: 'put', chat: record }, current)
    this.indexes.replace(current, record)
    this.views.drop(current)
    this.bytes += after - before
    return toChat(record)
  }

  /** The memory guard: a write that grows the data past the budget is refused; one that shrinks it never is. */
  private reserveBytes (after: number, before: number): void {
    const { maxBytes } = this.options
    if (maxBytes > 0 && after > before && this.bytes + after - before > maxBytes) {
      throw new StoreError('capacity', `The store's memory budget of ${maxBytes} bytes would be exceeded`)
    }
  }
}
