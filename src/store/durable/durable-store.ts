import { join } from 'node:path'
import type { ChatBackend } from '../backend.js'
import type { Chat, ChangeListener, ChangePage, ChatFields, ChatPatch, CreateResult, HistoryPage, HistoryQuery, IdempotencyKey, ListPage, ListQuery, StoreHealth, WriteOptions } from '../types.js'
import { StoreError } from '../errors.js'
import { MemoryChatStore, type MemoryStoreOptions } from '../memory/memory-store.js'
import { AppendLog, readOnlyError, type FsyncMode } from './append-log.js'
import { Compactor } from './compaction.js'
import { nodeFileOps, type FileOps } from './file-ops.js'
import { Healer } from './healing.js'
import { silent, type DurableLogger } from './logger.js'
import { logName, writeManifest } from './manifest.js'
import { recover, removeLeftovers } from './recovery.js'
import { createLog } from './snapshot.js'

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
  private state: 'recovering' | 'ready' | 'failed' | 'closed' = 'recovering'
  private failure = ''
  private readonly compactor: Compactor
  private readonly healer: Healer

  constructor (private readonly options: DurableStoreOptions) {
    this.ops = options.ops ?? nodeFileOps
    this.logger = options.logger ?? silent
    this.memory = new MemoryChatStore({
      ...options,
      journal: {
        append: (change, before) => {
          if (this.log === undefined) throw this.unavailable()
          this.log.append(change, before)
        },
        durable: () => this.log?.durable()
      }
    })
    this.compactor = new Compactor({
      dataDir: options.dataDir,
      ops: this.ops,
      logger: this.logger,
      memory: this.memory,
      log: () => this.log,
      ready: () => this.state === 'ready',
      closed: () => this.state === 'closed'
    }, options)
    this.healer = new Healer(() => this.compactor.heal(), options.retryMs ?? 1000)
    this.recovered = this.recover()
    this.recovered.catch(() => undefined)
  }

  // The memory store waits for the log (its journal's `durable`) before it answers a write.
  async create (owner: string, fields: ChatFields, idempotency?: IdempotencyKey): Promise<CreateResult> {
    this.checkWritable()
    return await this.memory.create(owner, fields, idempotency)
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
    return await this.memory.update(owner, id, patch, options)
  }

  async replace (owner: string, id: string, fields: ChatFields, options: WriteOptions = {}): Promise<Chat> {
    this.checkWritable()
    return await this.memory.replace(owner, id, fields, options)
  }

  async delete (owner: string, id: string, options: WriteOptions = {}): Promise<void> {
    this.checkWritable()
    await this.memory.delete(owner, id, options)
  }

  async changes (owner: string, after: string | undefined, limit: number): Promise<ChangePage> {
    this.beforeRead()
    return await this.memory.changes(owner, after, limit)
  }

  async history (owner: string, id: string, query: HistoryQuery): Promise<HistoryPage> {
    this.beforeRead()
    return await this.memory.history(owner, id, query)
  }

  /** Listeners may subscribe while the store recovers: they get the changes made once it is ready. */
  subscribe (owner: string, listener: ChangeListener): () => void {
    return this.memory.subscribe(owner, listener)
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
    return { logBytes: this.log?.bytes ?? 0, snapshotBytes: this.compactor.snapshotBytes, compactions: this.compactor.count }
  }

  async close (): Promise<void> {
    if (this.state === 'closed') return
    const wasReady = this.state === 'ready'
    this.state = 'closed'
    this.healer.stop()
    await this.recovered.catch(() => undefined)
    if (!wasReady && this.log === undefined) return
    await this.memory.close()
    await this.compactor.settled()
    this.log?.close()
  }

  /** The memory store's consistency check (tests): the recovered map, its order and its byte count agree. */
  async checkInvariants (): Promise<void> {
    await this.memory.checkInvariants()
  }

  /** Compacts now (tests); resolves when done. */
  async compact (): Promise<void> {
    await this.compactor.compact()
  }

  private async recover (): Promise<void> {
    const { dataDir: dir, fsync } = this.options
    const started = performance.now()
    try {
      const found = await recover(this.ops, dir, { warn: (message) => { this.logger.warn({ dataDir: dir }, message) } })
      if (this.state === 'closed') return
      let fd: number
      let end: number
      const { compactor } = this
      if (found.manifest === undefined) {
        compactor.manifest = { version: 1, snapshot: null, logs: [logName(1)], next: 2 }
        ;({ fd, end } = createLog(this.ops, dir, logName(1)))
        writeManifest(this.ops, dir, compactor.manifest)
      } else {
        compactor.manifest = found.manifest
        fd = this.ops.open(join(dir, found.manifest.logs.at(-1)!), 'r+')
        end = found.logEnd
      }
      removeLeftovers(this.ops, dir, compactor.manifest, (message) => { this.logger.warn({ dataDir: dir }, message) })
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
      const { extras } = found
      // A data directory without a feed yet starts one at its first change (or now, with none).
      const origin = extras.state?.origin ?? (extras.changes.length > 0 ? extras.changes[0]!.seq - 1 : this.memory.feeds.origin)
      this.memory.restoreExtras({
        feeds: { counter: extras.state?.counter ?? origin, origin, floors: extras.floors, records: extras.feed },
        versions: extras.versions(),
        keys: extras.keys
      }, extras.changes)
      compactor.snapshotBytes = found.snapshotBytes
      this.log = new AppendLog(this.ops, fsync, fd, end, {
        onAppend: () => { compactor.maybeCompact() },
        onFault: (fault) => { this.onFault(fault) },
        onUnwritten: (changes) => { this.memory.undo(changes) }
      })
      this.state = 'ready'
      this.logger.info({ dataDir: dir, fsync, chats: this.memory.size, indexes, ms: Math.round(performance.now() - started) }, 'store recovered')
      if (found.gaps > 0) compactor.compactSoon()
      else compactor.maybeCompact()
    } catch (err) {
      if (this.state !== 'closed') this.state = 'failed'
      this.failure = (err as Error).message
      throw err
    }
  }

  private onFault (fault: Error): void {
    this.logger.error({ err: fault }, 'the store is read-only')
    this.healer.start()
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
