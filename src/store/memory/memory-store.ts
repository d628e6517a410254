import { AppError, notFound, type FieldError } from '../../errors.js'
import type { Chat, ChatInput, ChatPatch, ChatStore, ListPage, ListQuery, StoreStats, WriteOptions } from '../chat-store.js'
import { createIdGenerator, isChatId, type IdGenerator } from '../ids.js'
import { RwLock } from '../rw-lock.js'
import { checkDescription, checkTitle, throwIfAny } from '../validate.js'
import { CursorCodec } from './cursor.js'
import { ChatIndexes, type ChatRecord } from './indexes.js'
import { runQuery } from './query-planner.js'

export interface MemoryStoreOptions {
  maxItems: number
  /** Budget for the store's data in estimated bytes; 0 turns the memory guard off. */
  maxBytes: number
  lockTimeoutMs: number
  now?: () => number
  ids?: IdGenerator
  /** Key of the HMAC that signs list cursors; random per store when absent. */
  cursorKey?: Buffer
  /** Entries per chunk of the ordered indexes (tests make it small to exercise splits and merges). */
  indexChunk?: number
  /** A pino-compatible logger: `list` names its query plan at debug level. */
  logger?: { debug: (obj: object, msg: string) => void }
}

/**
 * The memory guard's estimate of what one chat costs: a fixed part for the record, its map
 * entry and index entries, plus two bytes a UTF-16 code unit of its strings. Deterministic,
 * so that the same chats always add up to the same figure.
 */
export const RECORD_OVERHEAD_BYTES = 200
export function estimateBytes (title: string, description: string): number {
  return RECORD_OVERHEAD_BYTES + 2 * (36 + title.length + description.length)
}

function toChat (r: ChatRecord): Chat {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    priority: r.priority,
    isActive: r.isActive,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    version: r.version
  }
}

export function createMemoryStore (options: MemoryStoreOptions): ChatStore {
  return new MemoryChatStore(options)
}

export class MemoryChatStore implements ChatStore {
  /** Primary storage. Insertion order is creation order, which is also id order. */
  private readonly chats = new Map<string, ChatRecord>()
  /** Every query index, updated inside the same write-locked mutation as `chats`. */
  private readonly indexes: ChatIndexes
  private readonly cursors: CursorCodec
  private readonly lock: RwLock
  private readonly now: () => number
  private readonly nextId: IdGenerator
  private bytes = 0

  constructor (private readonly options: MemoryStoreOptions) {
    this.lock = new RwLock(options.lockTimeoutMs)
    this.now = options.now ?? Date.now
    this.nextId = options.ids ?? createIdGenerator(this.now)
    this.cursors = new CursorCodec(options.cursorKey)
    this.indexes = new ChatIndexes(options.indexChunk)
  }

  async create (input: ChatInput): Promise<Chat> {
    const fields = normalize(input)
    return await this.lock.withWrite(() => {
      if (this.chats.size >= this.options.maxItems) {
        throw new AppError('capacityExceeded', `The store holds its maximum of ${this.options.maxItems} chats`)
      }
      const size = estimateBytes(fields.title, fields.description)
      this.reserveBytes(size, 0)
      const now = this.now()
      const record: ChatRecord = { id: this.nextId(), ...fields, createdAt: now, updatedAt: now, version: 1, slot: this.indexes.nextSlot() }
      this.chats.set(record.id, record)
      this.indexes.add(record)
      this.bytes += size
      return toChat(record)
    })
  }

  async get (id: string): Promise<Chat | undefined> {
    return await this.lock.withRead(() => {
      const record = this.chats.get(id)
      return record === undefined ? undefined : toChat(record)
    })
  }

  async list (query: ListQuery): Promise<ListPage> {
    return await this.lock.withRead(() => {
      const { records, total, offset, nextCursor, plan } = runQuery(this.indexes, this.cursors, query)
      this.options.logger?.debug({ plan, total }, 'list query plan')
      const page: ListPage = { items: records.map(toChat), total, limit: query.limit, nextCursor }
      if (offset !== undefined) page.offset = offset
      return page
    })
  }

  async update (id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    const errors: FieldError[] = []
    const title = patch.title === undefined ? undefined : checkTitle(patch.title, errors)
    if (patch.description !== undefined) checkDescription(patch.description, errors)
    throwIfAny(errors)
    return await this.lock.withWrite(() => {
      const current = this.current(id, options)
      return this.write(current, {
        title: title ?? current.title,
        description: patch.description ?? current.description,
        priority: patch.priority ?? current.priority,
        isActive: patch.isActive ?? current.isActive
      })
    })
  }

  async replace (id: string, input: ChatInput, options: WriteOptions = {}): Promise<Chat> {
    const fields = normalize(input)
    return await this.lock.withWrite(() => this.write(this.current(id, options), fields))
  }

  async delete (id: string, options: WriteOptions = {}): Promise<void> {
    await this.lock.withWrite(() => {
      const current = this.current(id, options)
      this.chats.delete(id)
      this.indexes.remove(current)
      this.bytes -= estimateBytes(current.title, current.description)
    })
  }

  async count (): Promise<number> {
    return this.chats.size
  }

  stats (): StoreStats {
    return { items: this.chats.size, maxItems: this.options.maxItems, bytes: this.bytes, maxBytes: this.options.maxBytes }
  }

  async close (): Promise<void> {
    // Wait for writes in flight, so nothing acknowledged is cut short.
    await this.lock.withWrite(() => undefined)
  }

  /** The chat a write applies to, after its existence and its `If-Match` are checked. Call with the write lock held. */
  private current (id: string, options: WriteOptions): ChatRecord {
    const record = isChatId(id) ? this.chats.get(id) : undefined
    if (record === undefined) throw notFound()
    if (options.ifVersion !== undefined && !options.ifVersion.includes(record.version)) {
      throw new AppError('preconditionFailed', `If-Match does not match the chat's current version (${record.version})`)
    }
    return record
  }

  /** Swaps in the new version of a chat. Call with the write lock held. */
  private write (current: ChatRecord, fields: Required<ChatInput>): Chat {
    const before = estimateBytes(current.title, current.description)
    const after = estimateBytes(fields.title, fields.description)
    this.reserveBytes(after, before)
    // Strictly later than the last update, also within one millisecond.
    const updatedAt = Math.max(this.now(), current.updatedAt + 1)
    const record: ChatRecord = { ...current, ...fields, updatedAt, version: current.version + 1 }
    this.chats.set(record.id, record)
    this.indexes.replace(current, record)
    this.bytes += after - before
    return toChat(record)
  }

  /** The memory guard: a write that grows the data past the budget is refused; one that shrinks it never is. */
  private reserveBytes (after: number, before: number): void {
    const { maxBytes } = this.options
    if (maxBytes > 0 && after > before && this.bytes + after - before > maxBytes) {
      throw new AppError('capacityExceeded', `The store's memory budget of ${maxBytes} bytes would be exceeded`)
    }
  }
}

/** Applies the rules beyond the schemas and the defaults, or throws a validation problem. */
function normalize (input: ChatInput): Required<ChatInput> {
  const errors: FieldError[] = []
  const title = checkTitle(input.title, errors)
  const description = input.description ?? ''
  checkDescription(description, errors)
  throwIfAny(errors)
  return { title, description, priority: input.priority ?? 'medium', isActive: input.isActive ?? true }
}
