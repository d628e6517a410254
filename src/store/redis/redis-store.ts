import { randomBytes } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import type { ChatBackend } from '../backend.js'
import { ChatStore } from '../chat-store.js'
import { chatNotFound, invalidError, StoreError } from '../errors.js'
import { createIdGenerator, isChatId, type IdGenerator } from '../ids.js'
import { isoTime } from '../iso-time.js'
import { CursorCodec, fingerprintOfJson, invalid, type KeyTuple } from '../memory/cursor.js'
import { PRIORITY_RANK, titleKey } from '../memory/sort-keys.js'
import { words } from '../memory/tokenizer.js'
import type { Chat, ChangeListener, ChangePage, ChatFields, ChatPatch, CreateResult, HistoryEntry, HistoryPage, HistoryQuery, IdempotencyKey, ListPage, ListQuery, Priority, SortField, StoreHealth, WriteOptions } from '../types.js'
import { connect, connectSubscriber, primaries, RETRY_AFTER_S, storeErrorOf, turnBatcher, writeAndWait, type ChatClient, type RedisTarget, type WriteCommand } from './connection.js'
import { eventOf, FeedFollower } from './feed.js'
import { RedisKeys } from './keys.js'

export interface RedisStoreOptions extends RedisTarget {
  /** What every key starts with (`REDIS_KEY_PREFIX`): several services, or tests, can share one Redis. */
  keyPrefix: string
  /** Every owner together holds at most this many chats, across every process on this Redis and prefix. */
  maxItems: number
  /** One owner holds at most this many chats; 0 or absent: only `maxItems`. */
  maxItemsPerOwner?: number
  /**
   * After each write, `WAIT` for this many replicas to acknowledge it (0: do not wait). A write that
   * reaches fewer in time is answered `unavailable`, although the primary applied it.
   */
  waitReplicas?: number
  /**
   * Chats (each page counts one more) of the list pages kept to answer the same list again while
   * the owner made no write (REDIS_LIST_CACHE_CHATS); 0: none. Default 20,000.
   */
  listCacheChats?: number
  now?: () => number
  ids?: IdGenerator
  /** Key of the HMAC that signs list cursors; when absent, one kept in Redis that every store on the prefix shares. */
  cursorKey?: Buffer
  /** Versions kept per chat for `history`, the current one included (HISTORY_VERSIONS); 0: off. Default 0. */
  historyVersions?: number
  /** Changes kept per owner for `changes` (CHANGES_RETAIN). Default 10,000. */
  changesRetain?: number
  /** How long an idempotency key is kept (IDEMPOTENCY_TTL_S). Default a day. */
  idempotencyTtlMs?: number
}

/** A seq as clients see it: 16 decimal digits (the owner's stream entry id, `<seq>-0`). */
const SEQ = /^\d{16}$/
const HISTORY_CURSOR = /^v(\d{1,10})$/
/** The Retry-After of a create whose key is in flight. */
const IN_FLIGHT_RETRY_S = 1
/** Redis keeps a key this long past its TTL (its expiry is checked by the store's clock, in the scripts). */
const KEY_GRACE_MS = 60_000

/** A store on the Redis backend (`store.backend`). */
export type RedisStore = ChatStore<RedisChatStore>

export function createRedisStore (options: RedisStoreOptions): RedisStore {
  return new ChatStore(new RedisChatStore(options))
}

/** The sort index of a field, by its first letter (`ca`: createdAt ascending). */
const INDEX: Readonly<Record<SortField, string>> = { createdAt: 'c', updatedAt: 'u', priority: 'p', title: 't' }
/** What a list script answers per chat: id, title, description, priority, isActive, createdAt, updatedAt, version, title key. */
const PER_CHAT = 9

/** Whether a failed write certainly changed nothing: Redis answered with an error, so the script stopped before writing. */
const refusedByRedis = (err: unknown): boolean => err instanceof Error && err.name === 'ReplyError'

/**
 * The Redis backend: the chats in Redis (one node or a cluster), so that any number of processes
 * serve the same chats. Every key of one owner is in the owner's slot (`keys.ts`), every write is
 * one Lua script there (`scripts.ts`), and a list reads the owner's indexes only.
 * `MAX_ITEMS` is a counter of its own. On one node the create and delete scripts count it
 * themselves; on a cluster (where it is in another slot than the owner's) a create takes a place by
 * a reservation first, given back when the script refuses, and a delete gives its place back after.
 * `docs/redis.md` has the keys, the scripts and the guarantees.
 */
export class RedisChatStore implements ChatBackend {
  readonly client: ChatClient
  readonly keys: RedisKeys
  private cursors: CursorCodec
  private readonly now: () => number
  private readonly nextId: IdGenerator
  private readonly inFlight = new Set<Promise<unknown>>()
  private closed = false
  /** How long a call may take in all (its retries included) before the store answers `unavailable`. */
  private readonly deadlineMs: number
  private readonly retain: number
  private readonly historyVersions: number
  private readonly keyTtlMs: number
  /** The live feed: one subscriber connection for every owner followed here. */
  readonly feed: FeedFollower
  /**
   * Pages this process answered, by owner, query and position, each with the owner's last seq when it
   * was read. The list script answers only "the same" while that seq is still the owner's last: no
   * write of the owner in between, by any process. Least recently used first.
   */
  private readonly pages = new Map<string, { seq: string, page: ListPage }>()
  private pagedChats = 0
  private readonly listCacheChats: number
  /** One Redis node, not a cluster: the write scripts count `MAX_ITEMS` themselves (one round trip a create), and ioredis bounds every call. */
  private readonly oneNode: boolean
  /** One node: holds this turn's commands for one write (`turnBatcher`). */
  private readonly batchTurn: () => void

  constructor (private readonly options: RedisStoreOptions) {
    this.deadlineMs = options.commandTimeoutMs + 250
    this.client = connect(options)
    this.oneNode = !(this.client instanceof Cluster)
    this.batchTurn = this.client instanceof Redis ? turnBatcher(this.client) : () => {}
    this.keys = new RedisKeys(options.keyPrefix)
    this.now = options.now ?? Date.now
    this.nextId = options.ids ?? createIdGenerator(this.now)
    this.cursors = new CursorCodec(options.cursorKey)
    // Without a configured key, every process on this prefix signs with one kept in Redis (made
    // by the first), read again on each (re)connection: a page's cursor is good on any replica.
    if (options.cursorKey === undefined) this.client.on('ready', () => { this.shareCursorKey().catch(() => {}) })
    this.retain = Math.max(1, options.changesRetain ?? 10_000)
    this.listCacheChats = options.listCacheChats ?? 20_000
    this.historyVersions = options.historyVersions ?? 0
    this.keyTtlMs = options.idempotencyTtlMs ?? 86_400_000
    this.feed = new FeedFollower({
      connect: () => connectSubscriber(options, `chats-feed-${randomBytes(6).toString('hex')}`),
      channelOf: (owner) => this.keys.channel(this.keys.base(owner)),
      read: async (owner, after, limit) => await this.changes(owner, after, limit)
    })
  }

  /**
   * Settles once Redis answers (a cluster: once it knows its slots) and the cursor key is shared;
   * rejects (`unavailable`) when Redis does not answer in time.
   */
  async connected (): Promise<void> {
    await this.call(async () => await this.client.ping())
    if (this.options.cursorKey === undefined) await this.call(async () => { await this.shareCursorKey() })
  }

  private async shareCursorKey (): Promise<void> {
    await this.client.set(this.keys.cursorSecret, randomBytes(32).toString('hex'), 'NX')
    const shared = await this.client.get(this.keys.cursorSecret)
    if (shared !== null) this.cursors = new CursorCodec(Buffer.from(shared, 'hex'))
  }

  async create (owner: string, fields: ChatFields, idempotency?: IdempotencyKey): Promise<CreateResult> {
    return await this.writing(async () => {
      const now = this.now()
      const id = this.nextId()
      // The scripts cut ids off the end of index members by their length (36, a UUID's).
      if (!isChatId(id)) throw new Error(`the id generator made ${JSON.stringify(id)}, not a UUIDv7`)
      const base = this.keys.base(owner)
      let token = ''
      if (idempotency !== undefined) {
        // Step one, in the owner's slot: the key's kept answer, or a marker that this create holds it.
        token = randomBytes(9).toString('base64url')
        const begun = await this.call(async () => await this.client.chatKeyBegin(this.keys.idempotency(base, idempotency.key), idempotency.fingerprint, token, now, this.deadlineMs * 3))
        const replay = keyOutcome(begun)
        if (replay !== undefined) return replay
      }
      try {
        const full = (): StoreError => new StoreError('capacity', `The store holds its maximum of ${this.options.maxItems} chats`)
        if (!this.oneNode && await this.call(async () => await this.client.chatReserve(this.keys.items, this.options.maxItems)) !== 1) throw full()
        const args = [base, id, fields.title, fields.description, fields.priority,
          fields.isActive ? '1' : '0', now, titleKey(fields.title), termsOf(fields.title), termsOf(fields.description), this.options.maxItemsPerOwner ?? 0,
          this.retain, idempotency?.key ?? '', token, idempotency?.fingerprint ?? '', now + this.keyTtlMs, this.keyTtlMs + KEY_GRACE_MS, this.options.maxItems]
        let answer: string[]
        try {
          answer = await this.write<string[]>(...this.counting('chatCreate', this.keys.chat(base, id)), args)
        } catch (err) {
          // Given back only when the create certainly did not happen; otherwise the counter stays one
          // high (the store holds one fewer than it could) until `reconcileItems` runs.
          if (refusedByRedis(err)) await this.release()
          throw err
        }
        if (answer[0] !== 'ok') {
          await this.release()
          if (answer[0] === 'full') throw full()
          if (answer[0] === 'quota') throw new StoreError('capacity', `The owner holds their quota of ${this.options.maxItemsPerOwner ?? 0} chats`)
          const replay = keyOutcome(answer)
          if (replay !== undefined) return replay
          throw new Error(`the create script answered ${JSON.stringify(answer)}`)
        }
        await this.feed.reached(owner, answer[1]!)
        const at = isoTime(now)
        return { chat: { id, ...fields, createdAt: at, updatedAt: at, version: 1 }, replayed: false }
      } catch (err) {
        // A create that fails keeps no key (the marker goes unless the create took effect meanwhile).
        if (idempotency !== undefined) {
          const key = this.keys.idempotency(base, idempotency.key)
          await this.call(async () => await this.client.chatKeyAbort(key, token)).catch(() => undefined)
        }
        throw err
      }
    })
  }

  async changes (owner: string, after: string | undefined, limit: number): Promise<ChangePage> {
    this.checkOpen()
    if (after !== undefined && !SEQ.test(after)) throw invalidError([{ source: 'query', field: '/after', message: 'must be the seq of a change' }])
    const base = this.keys.base(owner)
    const reply = await this.call(async () => await this.client.chatChanges(this.keys.feed(base), base, after ?? '', limit))
    if (reply[0] === 'expired') {
      throw reply[1] === 'dropped'
        ? new StoreError('expired', 'The changes after this seq are no longer kept: list the chats again, then follow the feed from its newest seq')
        : new StoreError('expired', 'This seq is not of this store\'s changes (it was lost or comes from another store): list the chats again')
    }
    const items = reply.slice(2).map(eventOf)
    return { items, nextAfter: items.length > 0 ? items.at(-1)!.seq : reply[1]! }
  }

  async history (owner: string, id: string, query: HistoryQuery): Promise<HistoryPage> {
    this.checkOpen()
    let after = 0
    if (query.cursor !== undefined) {
      const match = HISTORY_CURSOR.exec(query.cursor)
      if (match === null) throw invalidError([{ source: 'query', field: '/cursor', message: 'must be a nextCursor of this chat\'s history' }])
      after = Number(match[1])
    }
    if (!isChatId(id)) throw chatNotFound()
    const base = this.keys.base(owner)
    const reply = await this.call(async () => await this.client.chatHistory(this.keys.chat(base, id), base, id))
    if (reply[0] !== 'ok') throw chatNotFound()
    if (this.historyVersions === 0) return { items: [], limit: query.limit, nextCursor: null }
    const versions: Chat[] = reply.slice(8).slice(-(this.historyVersions - 1) || reply.length).map((json) => {
      const [v, t, d, p, a, c, u] = JSON.parse(json) as string[]
      return chatOf(id, [t!, d!, p!, a!, c!, u!, v!], 0)
    })
    if (this.historyVersions === 1) versions.length = 0
    versions.push(chatOf(id, reply, 1))
    const items: HistoryEntry[] = []
    let i = versions.findIndex((v) => v.version > after)
    if (i < 0) i = versions.length
    for (; i < versions.length && items.length < query.limit; i++) {
      const chat = versions[i]!
      items.push({ version: chat.version, type: chat.version === 1 ? 'created' : 'updated', at: chat.updatedAt, chat })
    }
    return { items, limit: query.limit, nextCursor: i < versions.length ? `v${items.at(-1)!.version}` : null }
  }

  /** Live changes of the owner made through any process on this Redis and prefix (see `FeedFollower`). */
  subscribe (owner: string, listener: ChangeListener): () => void {
    return this.feed.subscribe(owner, listener)
  }

  async get (owner: string, id: string): Promise<Chat | undefined> {
    this.checkOpen()
    if (!isChatId(id)) return undefined
    const values = await this.call(async () => await this.client.hmget(this.keys.chat(this.keys.base(owner), id), 't', 'd', 'p', 'a', 'c', 'u', 'v'))
    return values[0] === null ? undefined : chatOf(id, values, 0)
  }

  async list (owner: string, query: ListQuery): Promise<ListPage> {
    this.checkOpen()
    const base = this.keys.base(owner)
    const sort = query.sort ?? [{ field: 'createdAt' as const, descending: false }]
    const priorities = [...new Set(query.priority ?? [])].sort((a, b) => PRIORITY_RANK[a] - PRIORITY_RANK[b])
    const queryWords = query.q === undefined ? undefined : [...new Set(words(query.q))].sort()
    // The owner is part of the fingerprint: a cursor is good for the owner it was made for only.
    const normalized = JSON.stringify({
      o: owner,
      p: priorities.length === 0 || priorities.length === 3 ? null : priorities,
      a: query.isActive ?? null,
      f: query.createdFrom ?? null,
      t: query.createdTo ?? null,
      q: queryWords ?? null,
      s: sort.map((k) => `${k.descending ? '-' : ''}${k.field}`)
    })
    const fingerprint = fingerprintOfJson(normalized)
    let after = ''
    if (query.cursor !== undefined) {
      const tuple = this.cursors.decode(query.cursor, fingerprint)
      const fits = tuple.length === sort.length + 1 && typeof tuple[sort.length] === 'string' && isChatId(tuple[sort.length] as string) &&
        sort.every((k, i) => k.field === 'title' ? typeof tuple[i] === 'string' && !(tuple[i]).includes('\0') : Number.isInteger(tuple[i]))
      if (!fits) throw invalid('does not fit this sort')
      after = tuple.join('\0')
    }
    const offset = after === '' ? query.offset ?? 0 : ''
    const cacheKey = `${normalized}\0${query.limit}\0${offset}\0${after}`
    const cached = this.pages.get(cacheKey)
    const reply = await this.call(async () => await this.client.chatList(this.keys.createdIndex(base), base,
      sort.map((k) => INDEX[k.field] + (k.descending ? 'd' : 'a')).join(','), query.limit, offset, after,
      priorities.join(','), query.isActive === undefined ? '' : query.isActive ? '1' : '0',
      query.createdFrom ?? '', query.createdTo ?? '', queryWords?.join(' ') ?? '', cached?.seq ?? ''))
    if (cached !== undefined && reply[0] === cached.seq && reply.length === 1) {
      this.pages.delete(cacheKey)
      this.pages.set(cacheKey, cached)
      return { ...cached.page, items: [...cached.page.items] }
    }
    const page = this.pageOf(reply, query, sort, fingerprint, after)
    this.remember(cacheKey, String(reply[0]), page)
    return page
  }

  /** Keeps a page for the next list of the same query (not when the owner never wrote: an empty seq). */
  private remember (key: string, seq: string, page: ListPage): void {
    const old = this.pages.get(key)
    if (old !== undefined) { this.pages.delete(key); this.pagedChats -= old.page.items.length + 1 }
    if (seq === '' || page.items.length + 1 > this.listCacheChats) return
    this.pages.set(key, { seq, page: { ...page, items: [...page.items] } })
    this.pagedChats += page.items.length + 1
    for (const [oldest, entry] of this.pages) {
      if (this.pagedChats <= this.listCacheChats) break
      this.pages.delete(oldest)
      this.pagedChats -= entry.page.items.length + 1
    }
  }

  private pageOf (reply: (string | number)[], query: ListQuery, sort: NonNullable<ListQuery['sort']>, fingerprint: string, after: string): ListPage {
    const total = Number(reply[1])
    const items: Chat[] = []
    const titleKeys: string[] = []
    for (let at = 2; at + PER_CHAT <= reply.length; at += PER_CHAT) {
      items.push(chatOf(String(reply[at]), reply as string[], at + 1))
      titleKeys.push(String(reply[at + 8]))
    }
    let nextCursor: string | null = null
    if (items.length > query.limit) {
      items.length = query.limit
      const last = items[query.limit - 1]!
      const tuple: KeyTuple = sort.map((k) => k.field === 'title'
        ? titleKeys[query.limit - 1]!
        : k.field === 'priority' ? PRIORITY_RANK[last.priority] : Date.parse(last[k.field]))
      tuple.push(last.id)
      nextCursor = this.cursors.encode(fingerprint, tuple)
    }
    const page: ListPage = { items, total, limit: query.limit, nextCursor }
    if (after === '') page.offset = query.offset ?? 0
    return page
  }

  async update (owner: string, id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    return await this.writing(async () => await this.change(owner, id, patch, options))
  }

  async replace (owner: string, id: string, fields: ChatFields, options: WriteOptions = {}): Promise<Chat> {
    return await this.writing(async () => await this.change(owner, id, fields, options))
  }

  async delete (owner: string, id: string, options: WriteOptions = {}): Promise<void> {
    await this.writing(async () => {
      if (!isChatId(id)) throw chatNotFound()
      const base = this.keys.base(owner)
      const answer = await this.write<string[]>(...this.counting('chatDelete', this.keys.chat(base, id)), [base, id, versionsOf(options), this.now(), this.retain])
      outcome(answer)
      await this.release()
      await this.feed.reached(owner, answer[1]!)
    })
  }

  async count (owner: string): Promise<number> {
    this.checkOpen()
    return await this.call(async () => await this.client.zcard(this.keys.createdIndex(this.keys.base(owner))))
  }

  /** Ready while Redis answers; `items` is the global count behind `maxItems`. */
  async health (): Promise<StoreHealth> {
    const figures = { recovering: false, readOnly: false, maxItems: this.options.maxItems }
    if (this.closed) return { ready: false, detail: 'The store is closed', items: 0, ...figures }
    try {
      const items = Number(await this.call(async () => await this.client.get(this.keys.items)) ?? 0)
      return { ready: true, items, ...figures }
    } catch {
      return { ready: false, detail: 'Redis cannot be reached', items: 0, ...figures }
    }
  }

  /**
   * Sets the global count to the chats every owner holds (the sum of their createdAt indexes, found
   * with SCAN on every primary). The count only ever errs high (a process that stopped between a
   * reservation and its create, or a create whose answer was lost): run this with writes stopped,
   * as `npm run redis:reconcile` does; a create that ran meanwhile could be missed by the scan.
   * It also deletes the descending sort indexes (`B:z:cd`, `ud`, `pd`, `td`) that stores
   * kept until 2026-12-07: a list now reads each field's index backwards, and writes no longer update them.
   */
  async reconcileItems (): Promise<{ before: number, after: number, dropped: number }> {
    let after = 0
    let dropped = 0
    for (const node of primaries(this.client)) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.keys.pattern.slice(0, -1)}{*}:z:[cupt][ad]`, 'COUNT', 1000)
        cursor = next
        for (const key of keys) {
          if (key.endsWith('d')) dropped += await node.unlink(key)
          else if (key.endsWith(':z:ca')) after += await node.zcard(key)
        }
      } while (cursor !== '0')
    }
    const before = Number(await this.client.getset(this.keys.items, after) ?? 0)
    return { before, after, dropped }
  }

  /** Waits for the writes in flight, then closes the connections. */
  async close (): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.inFlight])
    this.feed.close()
    await this.client.quit().catch(() => undefined)
    this.client.disconnect()
  }

  /** An update or a replace: the fields given replace the stored ones, in one script. */
  private async change (owner: string, id: string, patch: ChatPatch, options: WriteOptions): Promise<Chat> {
    if (!isChatId(id)) throw chatNotFound()
    const base = this.keys.base(owner)
    const given = (value: unknown): string => value === undefined ? '0' : '1'
    const answer = await this.write<string[]>([this.keys.chat(base, id)], 'chatUpdate', [base, id, versionsOf(options), this.now(),
      given(patch.title), patch.title ?? '', patch.title === undefined ? '' : titleKey(patch.title), patch.title === undefined ? '' : termsOf(patch.title),
      given(patch.description), patch.description ?? '', patch.description === undefined ? '' : termsOf(patch.description),
      given(patch.priority), patch.priority ?? '',
      given(patch.isActive), patch.isActive === undefined ? '' : patch.isActive ? '1' : '0', this.retain, this.historyVersions])
    outcome(answer)
    await this.feed.reached(owner, answer[8]!)
    return chatOf(id, answer, 1)
  }

  /**
   * Runs one write script on the key's slot; with `waitReplicas`, `WAIT`s on the same connection
   * (one pipeline) for that many replicas to have it.
   */
  private async write<T extends string | string[]> (keys: readonly string[], command: WriteCommand, args: (string | number)[]): Promise<T> {
    const replicas = this.options.waitReplicas ?? 0
    const run = this.client[command] as (...a: (string | number)[]) => Promise<T>
    if (replicas === 0) return await this.call(async () => await run.call(this.client, ...keys, ...args))
    const waitMs = Math.max(1, Math.floor(this.options.commandTimeoutMs / 2))
    const results = await this.call(async () => await writeAndWait(this.client, command, keys, args, replicas, waitMs))
    const [[scriptError, answer], [waitError, acknowledged]] = results as [[Error | null, T], [Error | null, number]]
    if (scriptError !== null) throw storeErrorOf(scriptError)
    const refused = typeof answer === 'string' ? answer !== 'ok' : answer[0] !== 'ok'
    if (!refused && (waitError !== null || acknowledged < replicas)) {
      throw new StoreError('unavailable', `The write was applied on the Redis primary, but ${waitError === null ? acknowledged : 'no'} of the ${replicas} replicas asked for acknowledged it in ${waitMs} ms`, { retryAfterSeconds: RETRY_AFTER_S })
    }
    return answer
  }

  /** A create's or a delete's keys and script: on one node the global count too, which the script counts. */
  private counting (command: 'chatCreate' | 'chatDelete', chatKey: string): [string[], WriteCommand] {
    return this.oneNode ? [[chatKey, this.keys.items], `${command}Counted`] : [[chatKey], command]
  }

  /** Gives one place of the global count back (a cluster's: on one node the scripts count). */
  private async release (): Promise<void> {
    if (this.oneNode) return
    await this.call(async () => await this.client.chatRelease(this.keys.items))
  }

  /** A Redis call whose failures are the store's errors (`storeErrorOf`). */
  private async call<T> (fn: () => Promise<T>): Promise<T> {
    // ioredis bounds each command on a node (`commandTimeout`, from when it is queued); a cluster's
    // own queue (while it has no node to send to) and its retries after CLUSTERDOWN are not bounded
    // by that, so on a cluster the store bounds every call itself.
    if (this.oneNode) {
      this.batchTurn()
      try {
        return await fn()
      } catch (err) {
        throw storeErrorOf(err)
      }
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new StoreError('unavailable', 'Redis did not answer in time', { retryAfterSeconds: RETRY_AFTER_S })) }, this.deadlineMs)
    })
    const call = fn()
    // A call that loses the race still settles later: its failure is nobody's to handle.
    call.catch(() => undefined)
    try {
      return await Promise.race([call, late])
    } catch (err) {
      throw storeErrorOf(err)
    } finally {
      clearTimeout(timer)
    }
  }

  /** A call after `close` (writes in flight finish first): `unavailable`. */
  private checkOpen (): void {
    if (this.closed) throw new StoreError('unavailable', 'The store is closed', { retryAfterSeconds: RETRY_AFTER_S })
  }

  /** Tracks a write, so that `close` can wait for it. */
  private async writing<T> (fn: () => Promise<T>): Promise<T> {
    this.checkOpen()
    const promise = fn()
    this.inFlight.add(promise)
    try {
      return await promise
    } finally {
      this.inFlight.delete(promise)
    }
  }
}

/** A text's distinct words (the tokenizer of the memory backend), space-separated: a word has no space. */
function termsOf (text: string): string {
  return [...new Set(words(text))].join(' ')
}

function versionsOf (options: WriteOptions): string {
  return options.ifVersion === undefined ? '*' : options.ifVersion.join(',')
}

/** What a keyed create's script answered, when it is not to go on: a replay, or the error. */
function keyOutcome (answer: string[]): CreateResult | undefined {
  if (answer[0] === 'replay') return { chat: eventOf(answer[1]!).chat!, replayed: true }
  if (answer[0] === 'reused') throw new StoreError('keyReused', 'This Idempotency-Key was used with another request body')
  if (answer[0] === 'inflight') throw new StoreError('keyInFlight', 'A create with this Idempotency-Key is still being processed', { retryAfterSeconds: IN_FLIGHT_RETRY_S })
  return undefined
}

/** Throws what a write script's refusal means. */
function outcome (answer: string[]): void {
  if (answer[0] === 'notFound') throw chatNotFound()
  if (answer[0] === 'version') throw new StoreError('versionMismatch', `the chat's current version (${answer[1] ?? '?'}) is not among those named`)
}

/** A chat from `values[at…]`: title, description, priority, isActive, createdAt, updatedAt, version. */
function chatOf (id: string, values: readonly (string | null)[], at: number): Chat {
  return {
    id,
    title: values[at]!,
    description: values[at + 1]!,
    priority: values[at + 2] as Priority,
    isActive: values[at + 3] === '1',
    createdAt: isoTime(Number(values[at + 4])),
    updatedAt: isoTime(Number(values[at + 5])),
    version: Number(values[at + 6])
  }
}
