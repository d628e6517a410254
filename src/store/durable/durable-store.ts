import { join } from 'node:path'
import type { ChatBackend } from '../backend.js'
import type { Chat, ChatFields, ChatPatch, ListPage, ListQuery, StoreHealth, WriteOptions } from '../types.js'
import { StoreError } from '../errors.js'
import { MemoryChatStore, type MemoryStoreOptions } from '../memory/memory-store.js'
import { AppendLog, readOnlyError, type FsyncMode } from './append-log.js'
import { nodeFileOps, type FileOps } from './file-ops.js'
import { logName, snapshotName, writeManifest, type Manifest } from './manifest.js'
import { recover, removeLeftovers } from './recovery.js'
import { encodeIndexImage } from './index-codec.js'
import { createLog, writeSnapshot } from './snapshot.js'

export interface DurableStoreOptions extends Omit<MemoryStoreOptions, 'journal'> {
  dataDir: string
  fsync: FsyncMode
  /** Compact when the log is at least this big… */
  compactMinBytes: number
  /** …and at least this percentage of the last snapshot's size (Redis's auto-aof-rewrite-*). */
  compactGrowthPercent: number
  /** How often a read-only store tries to heal by rewriting its files. */
  retryMs?: number
  ops?: FileOps
  logger?: DurableLogger
}

export interface DurableLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

const silent: DurableLogger = { info: () => undefined, warn: () => undefined, error: () => undefined }

export function createDurableStore (options: DurableStoreOptions): DurableChatStore {
  return new DurableChatStore(options)
}

/**
 * The in-memory store made durable: every change goes to an append-only log before it is applied,
 * snapshots compact the log, and recovery rebuilds the store at start. Until recovery ends every
 * call answers 503; after a failed append or sync the store is read-only (writes 503, reads go on)
 * until it manages to rewrite its files.
 */
export class DurableChatStore implements ChatBackend {
  /** Settles when recovery ends; rejects with a RecoveryError when the data directory cannot be loaded. */
  readonly recovered: Promise<void>
  private readonly memory: MemoryChatStore
  private readonly ops: FileOps
  private readonly logger: DurableLogger
  private log: AppendLog | undefined
  private manifest: Manifest = { version: 1, snapshot: null, logs: [], next: 1 }
  private snapshotBytes = 0
  private state: 'recovering' | 'ready' | 'failed' | 'closed' = 'recovering'
  private failure = ''
  private compaction: Promise<void> | undefined
  private compactions = 0
  private healTimer: NodeJS.Timeout | undefined

  constructor (private readonly options: DurableStoreOptions) {
    this.ops = options.ops ?? nodeFileOps
    this.logger = options.logger ?? silent
    this.memory = new MemoryChatStore({
      ...options,
      journal: {
        append: (change, before) => {
          if (this.log === undefined) throw this.unavailable()
          this.log.append(change, before)
        }
      }
    })
    this.recovered = this.recover()
    this.recovered.catch(() => undefined)
  }

  async create (owner: string, fields: ChatFields): Promise<Chat> {
    this.checkWritable()
    const chat = await this.memory.create(owner, fields)
    await this.log?.durable()
    return chat
  }

  async get (owner: string, id: string): Promise<Chat | undefined> {
    this.beforeRead()
    return await this.memory.get(owner, id)
  }

  async list (owner: string, query: ListQuery): Promise<ListPage> {
    this.beforeRead()
    return await this.memory.list(owner, query)
  }

  async update (owner: string, id: string, patch: ChatPatch, options: WriteOptions = {}): Promise<Chat> {
    this.checkWritable()
    const chat = await this.memory.update(owner, id, patch, options)
    await this.log?.durable()
    return chat
  }

  async replace (owner: string, id: string, fields: ChatFields, options: WriteOptions = {}): Promise<Chat> {
    this.checkWritable()
    const chat = await this.memory.replace(owner, id, fields, options)
    await this.log?.durable()
    return chat
  }

  async delete (owner: string, id: string, options: WriteOptions = {}): Promise<void> {
    this.checkWritable()
    await this.memory.delete(owner, id, options)
    await this.log?.durable()
  }

  async count (owner: string): Promise<number> {
    this.beforeRead()
    return await this.memory.count(owner)
  }

  async health (): Promise<StoreHealth> {
    const fault = this.log?.fault
    const health: StoreHealth = { ready: this.state === 'ready' && fault === undefined, recovering: this.state === 'recovering', readOnly: fault !== undefined, ...this.memory.figures() }
    const detail = this.state === 'ready' ? fault?.message : this.describeState()
    if (detail !== undefined) health.detail = detail
    return health
  }

  /** Log and snapshot sizes and the number of compactions done, for tests and the benchmark. */
  get files (): { logBytes: number, snapshotBytes: number, compactions: number } {
    return { logBytes: this.log?.bytes ?? 0, snapshotBytes: this.snapshotBytes, compactions: this.compactions }
  }

  async close (): Promise<void> {
    if (this.state === 'closed') return
    const wasReady = this.state === 'ready'
    this.state = 'closed'
    if (this.healTimer !== undefined) clearInterval(this.healTimer)
    await this.recovered.catch(() => undefined)
    if (!wasReady && this.log === undefined) return
    await this.memory.close()
    await this.compaction?.catch(() => undefined)
    this.log?.close()
  }

  /** The memory store's consistency check (tests): the recovered map, its order and its byte count agree. */
  async checkInvariants (): Promise<void> {
    await this.memory.checkInvariants()
  }

  /** Compacts now (tests, and the heal path); resolves when done. */
  async compact (): Promise<void> {
    while (this.compaction !== undefined) await this.compaction
    this.compaction = this.runCompaction(false).finally(() => { this.compaction = undefined })
    await this.compaction
  }

  private async recover (): Promise<void> {
    const { dataDir: dir, fsync } = this.options
    const started = performance.now()
    try {
      const found = await recover(this.ops, dir, { warn: (message) => { this.logger.warn({ dataDir: dir }, message) } })
      if (this.state === 'closed') return
      let fd: number
      let end: number
      if (found.manifest === undefined) {
        this.manifest = { version: 1, snapshot: null, logs: [logName(1)], next: 2 }
        ;({ fd, end } = createLog(this.ops, dir, logName(1)))
        writeManifest(this.ops, dir, this.manifest)
      } else {
        this.manifest = found.manifest
        fd = this.ops.open(join(dir, found.manifest.logs.at(-1)!), 'r+')
        end = found.logEnd
      }
      removeLeftovers(this.ops, dir, this.manifest, (message) => { this.logger.warn({ dataDir: dir }, message) })
      let indexes: 'loaded' | 'built' = 'built'
      if (found.image !== undefined) {
        try {
          this.memory.restoreImage(found.image, found.tail)
          indexes = 'loaded'
        } catch (err) {
          this.logger.warn({ dataDir: dir, err }, 'the snapshot\'s saved indexes do not fit its chats; building them instead')
        }
      }
      if (indexes === 'built') {
        const chats = found.chats()
        this.memory.restore(chats.values(), chats.size)
      }
      this.snapshotBytes = found.snapshotBytes
      this.log = new AppendLog(this.ops, fsync, fd, end, {
        onAppend: () => { this.maybeCompact() },
        onFault: (fault) => { this.onFault(fault) },
        onUnwritten: (changes) => { this.memory.undo(changes) }
      })
      this.state = 'ready'
      this.logger.info({ dataDir: dir, fsync, chats: this.memory.size, indexes, ms: Math.round(performance.now() - started) }, 'store recovered')
      if (found.gaps > 0) this.compactSoon()
      else this.maybeCompact()
    } catch (err) {
      if (this.state !== 'closed') this.state = 'failed'
      this.failure = (err as Error).message
      throw err
    }
  }

  private maybeCompact (): void {
    const log = this.log
    if (log === undefined || this.compaction !== undefined || this.state !== 'ready' || log.fault !== undefined) return
    const { compactMinBytes, compactGrowthPercent } = this.options
    if (log.bytes < compactMinBytes || log.bytes * 100 < this.snapshotBytes * compactGrowthPercent) return
    this.compactSoon()
  }

  /** Starts a compaction at the next turn of the event loop, in the background. */
  private compactSoon (): void {
    this.compaction = new Promise<void>((resolve) => { setImmediate(resolve) })
      .then(async () => { await this.runCompaction(false) })
      .catch((err: unknown) => {
        if (this.state === 'closed') this.logger.info({ err }, 'compaction given up: the store is closing')
        else this.logger.error({ err }, 'compaction failed; the log keeps growing until the next one works')
      })
      .finally(() => { this.compaction = undefined })
  }

  /**
   * Writes a snapshot of the store and drops the files it covers. A new log is named in the
   * manifest first (beside the old ones), then, under the write lock, appends switch to it and the
   * chats are copied; the snapshot is written from that copy while requests go on, then a new
   * manifest names it and the new log only. A crash at any step leaves a manifest naming complete
   * files. Healing (after a fault) writes no intermediate manifest, as no write goes on meanwhile.
   */
  private async runCompaction (heal: boolean): Promise<void> {
    const log = this.log
    if (log === undefined || this.state !== 'ready') return
    // A compaction switches away from the current log only when it holds every record it was
    // given: after a failed write it ends in a torn record, which only the last log may.
    if (!heal) {
      log.writePending()
      if (log.fault !== undefined) return
    }
    const { dataDir: dir } = this.options
    const started = performance.now()
    const n = this.manifest.next
    const newLog = logName(n)
    const snapshot = snapshotName(n)
    const previous = this.manifest
    this.manifest = { ...previous, next: n + 1 }
    const file = createLog(this.ops, dir, newLog)
    let switched = false
    try {
      const { chats, image } = await this.memory.withAll((all, image) => {
        if (!heal) {
          // Under the write lock, so that nothing is appended meanwhile: the current log is
          // complete and synced before the manifest names a log after it (only the last log may
          // end in a torn record). The manifest in memory is changed first: after a failed
          // write, the file may name either.
          log.syncNow()
          this.manifest = { ...this.manifest, logs: [...previous.logs, newLog] }
          writeManifest(this.ops, dir, this.manifest)
          log.switchTo(file.fd, file.end)
        }
        return { chats: all, image: image() }
      })
      switched = !heal
      const index = await encodeIndexImage(image, chats).catch((err: unknown) => {
        this.logger.warn({ err }, 'the indexes could not be encoded')
        return undefined
      })
      if (index === undefined) this.logger.warn({ chats: chats.length }, 'the snapshot is written without its indexes: the next start builds them')
      const bytes = await writeSnapshot(this.ops, dir, snapshot, chats, () => this.state === 'closed', index)
      this.manifest = { version: 1, snapshot, logs: [newLog], next: n + 1 }
      writeManifest(this.ops, dir, this.manifest)
      if (heal) {
        await this.memory.exclusive(() => { log.switchTo(file.fd, file.end, true) })
        switched = true
      }
      this.snapshotBytes = bytes
      this.compactions++
      for (const name of [previous.snapshot, ...previous.logs]) {
        if (name !== null) this.unlinkQuietly(join(dir, name))
      }
      this.logger.info({ chats: chats.length, snapshotBytes: bytes, ms: Math.round(performance.now() - started) }, heal ? 'store healed: writes resume' : 'log compacted')
    } catch (err) {
      if (!switched) {
        try { this.ops.close(file.fd) } catch { /* it is being given up */ }
        if (this.manifest.logs.includes(newLog)) {
          // Nothing went to the new log: name the old files alone again, so that the current log,
          // which a failed write may have left with a torn record, stays the last one.
          const before = { ...previous, next: n + 1 }
          try {
            writeManifest(this.ops, dir, before)
            this.manifest = before
          } catch { /* the manifest names both; the next compaction or heal rewrites it */ }
        }
        if (!this.manifest.logs.includes(newLog)) this.unlinkQuietly(join(dir, newLog))
      }
      throw err
    }
  }

  private onFault (fault: Error): void {
    this.logger.error({ err: fault }, 'the store is read-only')
    if (this.healTimer !== undefined) return
    this.healTimer = setInterval(() => {
      if (this.compaction !== undefined || this.state !== 'ready') return
      this.compaction = this.runCompaction(true)
        .then(() => {
          clearInterval(this.healTimer)
          this.healTimer = undefined
        }, (err: unknown) => { this.logger.warn({ err }, 'still read-only: rewriting the store files failed') })
        .finally(() => { this.compaction = undefined })
    }, this.options.retryMs ?? 1000)
    this.healTimer.unref()
  }

  private unlinkQuietly (path: string): void {
    try {
      this.ops.unlink(path)
    } catch (err) {
      this.logger.warn({ err, path }, 'could not remove a file compaction replaced; the next start removes it')
    }
  }

  private describeState (): string | undefined {
    switch (this.state) {
      case 'recovering': return 'The store is recovering its data from disk'
      case 'failed': return `The store could not recover its data: ${this.failure}`
      case 'closed': return 'The store is closed'
      default: return undefined
    }
  }

  private unavailable (): StoreError {
    return new StoreError('unavailable', this.describeState() ?? 'The store is not ready', { retryAfterSeconds: 1 })
  }

  private checkReadable (): void {
    if (this.state !== 'ready') throw this.unavailable()
  }

  /** A read answers from the log's point of view: the records waiting are written first, so it shows nothing the file lacks. */
  private beforeRead (): void {
    this.checkReadable()
    this.log?.writePending()
  }

  private checkWritable (): void {
    this.checkReadable()
    const fault = this.log?.fault
    if (fault !== undefined) throw readOnlyError(fault)
  }
}
