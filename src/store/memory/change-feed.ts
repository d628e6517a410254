import { invalidError, StoreError } from '../errors.js'
import { isoTime } from '../iso-time.js'
import { toChat, type FeedRecord } from '../records.js'
import type { ChangeEvent, ChangeListener, ChangePage } from '../types.js'

/** A seq as clients see it: 16 decimal digits, so that seqs order as strings as they do as numbers. */
const SEQ = /^\d{16}$/
export const formatSeq = (n: number): string => String(n).padStart(16, '0')

/** The change as clients see it. */
export function toChangeEvent (r: FeedRecord): ChangeEvent {
  const event: ChangeEvent = { seq: formatSeq(r.seq), type: r.chat === undefined ? 'deleted' : r.version === 1 ? 'created' : 'updated', id: r.id, version: r.version, at: isoTime(r.at) }
  if (r.chat !== undefined) event.chat = toChat(r.chat)
  return event
}

/** One owner's kept changes, oldest first, from `head` on; `floor` is the last seq dropped (or the feeds' origin). */
class OwnerFeed {
  records: FeedRecord[] = []
  head = 0
  constructor (public floor: number) {}

  get size (): number { return this.records.length - this.head }

  push (record: FeedRecord, retain: number): void {
    this.records.push(record)
    while (this.size > retain) this.floor = this.records[this.head++]!.seq
    // Dropped records leave the array in bulk, so that a push costs O(1) amortized.
    if (this.head >= 1024 && this.head * 2 >= this.records.length) {
      this.records = this.records.slice(this.head)
      this.head = 0
    }
  }

  /** The index of the first kept record after `seq`. */
  after (seq: number): number {
    let lo = this.head
    let hi = this.records.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.records[mid]!.seq <= seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** What a snapshot keeps of the feeds. */
export interface FeedState {
  counter: number
  origin: number
  /** Owners whose feed dropped changes, with the last seq dropped. */
  floors: [string, number][]
  /** Every kept change, each owner's in seq order. */
  records: FeedRecord[]
}

/**
 * Every owner's change feed: the last `retain` changes of each, numbered by one counter in commit
 * order, and the live listeners. A seq starts from the clock (its milliseconds times 1000) when a
 * store starts with no feed, so that a position from an earlier, lost history (a memory-only
 * store before its restart) is older than the `origin` and answers `expired` rather than a page
 * that silently misses changes. Changes are recorded inside the store's write lock and published
 * to listeners once durable, in seq order.
 */
export class ChangeFeeds {
  private feeds = new Map<string, OwnerFeed>()
  private readonly listeners = new Map<string, Set<ChangeListener>>()
  /** Changes recorded for owners with listeners, not yet published, in seq order. */
  private unpublished: FeedRecord[] = []
  counter: number
  origin: number

  constructor (private readonly retain: number, now: () => number) {
    this.origin = this.counter = Math.floor(now()) * 1000
  }

  /** The seq of the next change. Call with the write lock held, then `record` it (or `undo` it). */
  next (): number {
    return ++this.counter
  }

  record (r: FeedRecord): void {
    this.feedOf(r.owner).push(r, this.retain)
    if (this.listeners.has(r.owner)) this.unpublished.push(r)
  }

  /** Takes back the latest change (its write could not be kept). */
  undo (seq: number, owner: string): void {
    const feed = this.feeds.get(owner)
    if (feed !== undefined && feed.records.at(-1)?.seq === seq) feed.records.pop()
    if (this.unpublished.at(-1)?.seq === seq) this.unpublished.pop()
    if (this.counter === seq) this.counter--
  }

  /** Calls the listeners with every change recorded up to `seq`, in order. */
  publish (seq: number): void {
    let n = 0
    const queue = this.unpublished
    while (n < queue.length && queue[n]!.seq <= seq) n++
    if (n === 0) return
    const due = n === queue.length ? queue : queue.slice(0, n)
    this.unpublished = n === queue.length ? [] : queue.slice(n)
    for (const r of due) {
      const listeners = this.listeners.get(r.owner)
      if (listeners === undefined) continue
      const event = Object.freeze(toChangeEvent(r))
      for (const listener of listeners) listener(event)
    }
  }

  subscribe (owner: string, listener: ChangeListener): () => void {
    let set = this.listeners.get(owner)
    if (set === undefined) this.listeners.set(owner, set = new Set())
    // A listener added twice still gets each change once, and is removed by either unsubscribe.
    const entry: ChangeListener = (event) => { listener(event) }
    set.add(entry)
    return () => {
      const current = this.listeners.get(owner)
      if (current === undefined) return
      current.delete(entry)
      if (current.size === 0) this.listeners.delete(owner)
    }
  }

  page (owner: string, after: string | undefined, limit: number): ChangePage {
    const feed = this.feeds.get(owner)
    let from = -1
    if (after !== undefined) {
      if (!SEQ.test(after)) throw invalidError([{ source: 'query', field: '/after', message: 'must be the seq of a change' }])
      from = Number(after)
      if (from < (feed?.floor ?? this.origin)) throw new StoreError('expired', 'The changes after this seq are no longer kept: list the chats again, then follow the feed from its newest seq')
      if (from > this.counter) throw new StoreError('expired', 'This seq is not of this store\'s changes (it was lost or comes from another store): list the chats again')
    }
    if (limit === 0 || feed === undefined) return { items: [], nextAfter: formatSeq(this.counter) }
    const start = after === undefined ? feed.head : feed.after(from)
    const end = Math.min(feed.records.length, start + limit)
    const items: ChangeEvent[] = []
    for (let i = start; i < end; i++) items.push(toChangeEvent(feed.records[i]!))
    return { items, nextAfter: items.length > 0 ? items.at(-1)!.seq : formatSeq(this.counter) }
  }

  /** A copy of what a snapshot keeps. Call with the write lock held. */
  state (): FeedState {
    const floors: [string, number][] = []
    const records: FeedRecord[] = []
    for (const [owner, feed] of this.feeds) {
      if (feed.floor !== this.origin) floors.push([owner, feed.floor])
      for (let i = feed.head; i < feed.records.length; i++) records.push(feed.records[i]!)
    }
    // Each owner's in seq order, which is all `restore` needs: no sort under the lock.
    return { counter: this.counter, origin: this.origin, floors, records }
  }

  /** Recovery: takes the state, then the changes logged after it (each owner's in seq order), each feed keeping its last `retain`. */
  restore (state: FeedState): void {
    this.feeds = new Map()
    this.unpublished = []
    this.origin = state.origin
    this.counter = Math.max(state.counter, state.origin)
    for (const [owner, floor] of state.floors) this.feeds.set(owner, new OwnerFeed(floor))
    for (const r of state.records) {
      this.feedOf(r.owner).push(r, this.retain)
      if (r.seq > this.counter) this.counter = r.seq
    }
  }

  /** The owners with a feed and the changes kept, for tests and figures. */
  get size (): { owners: number, changes: number } {
    let changes = 0
    for (const feed of this.feeds.values()) changes += feed.size
    return { owners: this.feeds.size, changes }
  }

  private feedOf (owner: string): OwnerFeed {
    let feed = this.feeds.get(owner)
    if (feed === undefined) this.feeds.set(owner, feed = new OwnerFeed(this.origin))
    return feed
  }
}
