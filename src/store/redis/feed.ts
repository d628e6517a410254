import type { Cluster, Redis } from 'ioredis'
import { isoTime } from '../iso-time.js'
import type { ChangeEvent, ChangeListener, ChangePage, Chat, Priority } from '../types.js'

/**
 * A feed entry as the write scripts make it (`scripts.ts`, `feed`): a JSON array of strings,
 * seq, kind (`c` a put, `d` a delete), id, version, at, then for a put title, description,
 * priority, isActive, createdAt (its updatedAt is `at`).
 */
export function eventOf (entry: string): ChangeEvent {
  const [seq, kind, id, v, at, title, description, priority, active, created] = JSON.parse(entry) as string[]
  const version = Number(v)
  const event: ChangeEvent = { seq: seq!, type: kind === 'd' ? 'deleted' : version === 1 ? 'created' : 'updated', id: id!, version, at: isoTime(Number(at)) }
  if (kind !== 'd') event.chat = chatOfEntry(id!, title!, description!, priority!, active!, created!, at!, version)
  return event
}

function chatOfEntry (id: string, title: string, description: string, priority: string, active: string, created: string, updated: string, version: number): Chat {
  return { id, title, description, priority: priority as Priority, isActive: active === '1', createdAt: isoTime(Number(created)), updatedAt: isoTime(Number(updated)), version }
}

/** What the follower needs of the store. */
export interface FeedSource {
  /** The dedicated subscriber connection, made when the first owner is followed. */
  connect: () => Redis | Cluster
  /** The owner's shard channel. */
  channelOf: (owner: string) => string
  /** `changes` on the primary. */
  read: (owner: string, after: string | undefined, limit: number) => Promise<ChangePage>
}

interface Follow {
  owner: string
  channel: string
  listeners: Set<ChangeListener>
  /** The last seq delivered (or the position the follow started from); undefined until known. */
  last: string | undefined
  /** Delivering pub/sub messages as they come; false while catching up from the stream. */
  live: boolean
  /** Messages that came while not live, in order. */
  buffer: ChangeEvent[]
  syncing: boolean
  again: boolean
  /** Local writes waiting for their change to be delivered. */
  waiters: { seq: string, resolve: () => void }[]
}

const PAGE = 1000
/** Messages held while catching up; past it they are dropped and the next catch-up reads them from the stream. */
const MAX_BUFFER = 10_000
/** How often every follow reads the stream after its last delivered seq, repairing a gap pub/sub left unnoticed (a cluster node's reconnect). */
const REPAIR_MS = 1000
/** How long a local write waits for its own change to be delivered before it answers anyway. */
const REACH_MS = 1000

const again = (follow: { again: boolean }): boolean => follow.again

/**
 * The live side of the Redis feed, one per process: every write script appends its change to the
 * owner's stream and publishes it on the owner's shard channel (`SPUBLISH`, in the same script, so
 * messages come in seq order). The follower subscribes (`SSUBSCRIBE`) to the channels of the owners
 * with listeners here, and calls them with each change in seq order, each once: it tracks the last
 * seq delivered per owner, and reads the stream after it (`changes`) whenever pub/sub may have
 * left a gap: when an owner is first followed (from the position read when `subscribe` was
 * called, which the connection sends before any later write of this process), after the
 * subscriber connection reconnects, and every second as a repair. Messages that arrive while it
 * reads are held and delivered after, skipping what the read delivered.
 */
export class FeedFollower {
  private readonly follows = new Map<string, Follow>()
  private sub: Redis | Cluster | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor (private readonly source: FeedSource) {}

  /** The subscriber connection, when one is open (tests force its reconnect). */
  get connection (): Redis | Cluster | undefined {
    return this.sub
  }

  subscribe (owner: string, listener: ChangeListener): () => void {
    const channel = this.source.channelOf(owner)
    let follow = this.follows.get(channel)
    if (follow === undefined) {
      follow = { owner, channel, listeners: new Set(), last: undefined, live: false, buffer: [], syncing: false, again: false, waiters: [] }
      this.follows.set(channel, follow)
      this.start(follow)
    }
    // A listener added twice still gets each change once, and is removed by either unsubscribe.
    const entry: ChangeListener = (event) => { listener(event) }
    follow.listeners.add(entry)
    const current = follow
    return () => {
      current.listeners.delete(entry)
      if (current.listeners.size > 0 || this.follows.get(channel) !== current) return
      this.follows.delete(channel)
      for (const w of current.waiters) w.resolve()
      current.waiters = []
      this.sub?.sunsubscribe(channel).catch(() => undefined)
      if (this.follows.size === 0) this.stopRepair()
    }
  }

  /** Resolves once the change `seq` of the owner has been delivered here (at once when the owner has no listeners), or after a bound. */
  async reached (owner: string, seq: string): Promise<void> {
    const follow = this.follows.get(this.source.channelOf(owner))
    if (follow === undefined || (follow.last !== undefined && follow.last >= seq)) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.sync(follow)
        resolve()
      }, REACH_MS)
      follow.waiters.push({ seq, resolve: () => { clearTimeout(timer); resolve() } })
    })
  }

  close (): void {
    this.closed = true
    this.stopRepair()
    for (const follow of this.follows.values()) for (const w of follow.waiters) w.resolve()
    this.follows.clear()
    this.sub?.disconnect()
    this.sub = undefined
  }

  private connection_ (): Redis | Cluster {
    if (this.sub === undefined) {
      const sub = this.sub = this.source.connect()
      sub.on('smessage', (channel: string, message: string) => { this.onMessage(channel, message) })
      // One node's connection: after a reconnect (ioredis subscribes again), read what was missed.
      sub.on('ready', () => { this.resync() })
    }
    return this.sub
  }

  private start (follow: Follow): void {
    // The position first, on the store's connection: it goes out before any write this process sends after `subscribe`.
    const position = this.source.read(follow.owner, undefined, 0)
    const subscribed = this.connection_().ssubscribe(follow.channel)
    follow.syncing = true
    void Promise.all([position, subscribed]).then(([page]) => {
      if (follow.last === undefined) follow.last = page.nextAfter
      follow.syncing = false
      this.sync(follow)
    }, () => {
      // Redis could not be reached: the repair tries again (from the position it reads then).
      follow.syncing = false
    })
    position.catch(() => undefined)
    subscribed.catch(() => undefined)
    this.startRepair()
  }

  private onMessage (channel: string, message: string): void {
    const follow = this.follows.get(channel)
    if (follow === undefined) return
    let event: ChangeEvent
    try {
      event = eventOf(message)
    } catch {
      return
    }
    if (follow.live) this.deliver(follow, event)
    else if (follow.buffer.length < MAX_BUFFER) follow.buffer.push(event)
    else follow.again = true
  }

  private deliver (follow: Follow, event: ChangeEvent): void {
    if (follow.last !== undefined && event.seq <= follow.last) return
    follow.last = event.seq
    const frozen = Object.freeze(event)
    for (const listener of follow.listeners) listener(frozen)
    if (follow.waiters.length > 0) {
      const due = follow.waiters.filter((w) => w.seq <= event.seq)
      follow.waiters = follow.waiters.filter((w) => w.seq > event.seq)
      for (const w of due) w.resolve()
    }
  }

  /** Reads the owner's stream after the last seq delivered and delivers it, then what pub/sub brought meanwhile. */
  private sync (follow: Follow): void {
    if (follow.syncing) {
      follow.again = true
      return
    }
    follow.syncing = true
    follow.live = false
    void (async () => {
      try {
        do {
          follow.again = false
          if (follow.last === undefined) follow.last = (await this.source.read(follow.owner, undefined, 0)).nextAfter
          for (;;) {
            const page = await this.source.read(follow.owner, follow.last, PAGE).catch(async (err: unknown) => {
              // Changes after the last delivered were dropped (a long disconnect): go on from the oldest kept.
              if ((err as { code?: string }).code === 'expired') return await this.source.read(follow.owner, undefined, PAGE)
              throw err
            })
            if (this.follows.get(follow.channel) !== follow) return
            for (const e of page.items) this.deliver(follow, e)
            if (page.items.length < PAGE) break
          }
        // Set again by a sync asked for meanwhile (TypeScript cannot see that an await lets it change).
        } while (again(follow))
      } catch {
        // Unreachable: the repair tries again.
      } finally {
        follow.syncing = false
        follow.live = true
        const held = follow.buffer
        follow.buffer = []
        for (const e of held) this.deliver(follow, e)
        if (follow.again) this.sync(follow)
      }
    })()
  }

  private resync (): void {
    const channels = [...this.follows.keys()]
    if (channels.length === 0 || this.closed) return
    for (const follow of this.follows.values()) follow.live = false
    // Subscribed again (whether or not ioredis already did) before the stream is read: nothing falls between.
    void this.sub?.ssubscribe(...channels).then(() => {
      for (const follow of this.follows.values()) this.sync(follow)
    }, () => {
      for (const follow of this.follows.values()) follow.live = true
    })
  }

  private startRepair (): void {
    if (this.timer !== undefined || this.closed) return
    this.timer = setInterval(() => {
      for (const follow of this.follows.values()) this.sync(follow)
    }, REPAIR_MS)
    this.timer.unref()
  }

  private stopRepair (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
