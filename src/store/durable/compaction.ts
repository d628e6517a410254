import { join } from 'node:path'
import type { MemoryChatStore } from '../memory/memory-store.js'
import type { AppendLog } from './append-log.js'
import type { FileOps } from './file-ops.js'
import { encodeIndexImage } from './index-codec.js'
import type { DurableLogger } from './logger.js'
import { logName, snapshotName, writeManifest, type Manifest } from './manifest.js'
import { createLog, writeSnapshot } from './snapshot.js'

/** What a compaction works on: the store's directory, its chats, its log and its state. */
export interface CompactionContext {
  readonly dataDir: string
  readonly ops: FileOps
  readonly logger: DurableLogger
  readonly memory: MemoryChatStore
  /** The log appends go to; undefined until recovery has made it. */
  readonly log: () => AppendLog | undefined
  readonly ready: () => boolean
  readonly closed: () => boolean
}

/** When the log is compacted: once it is at least `compactMinBytes` and `compactGrowthPercent` of the last snapshot. */
export interface CompactionPolicy {
  compactMinBytes: number
  compactGrowthPercent: number
}

/**
 * The durable store's compaction: a snapshot of the store replaces the log once the log has grown
 * enough, and the same rewrite heals the store after a fault (`heal`). It keeps the manifest, the
 * list of the store's current files, and at most one compaction runs at a time.
 */
export class Compactor {
  /** The store's files, as the manifest on disk names them (or is about to). */
  manifest: Manifest = { version: 1, snapshot: null, logs: [], next: 1 }
  /** The size of the last snapshot written or recovered. */
  snapshotBytes = 0
  /** Compactions done, heals included. */
  count = 0
  private running: Promise<void> | undefined

  constructor (private readonly context: CompactionContext, private readonly policy: CompactionPolicy) {}

  /** Compacts now, after the one under way if any; resolves when done. */
  async compact (): Promise<void> {
    while (this.running !== undefined) await this.running
    this.running = this.run(false).finally(() => { this.running = undefined })
    await this.running
  }

  /** Starts a compaction when the policy asks for one (after each append). */
  maybeCompact (): void {
    const log = this.context.log()
    if (log === undefined || this.running !== undefined || !this.context.ready() || log.fault !== undefined) return
    const { compactMinBytes, compactGrowthPercent } = this.policy
    if (log.bytes < compactMinBytes || log.bytes * 100 < this.snapshotBytes * compactGrowthPercent) return
    this.compactSoon()
  }

  /** Starts a compaction at the next turn of the event loop, in the background. */
  compactSoon (): void {
    const { logger } = this.context
    this.running = new Promise<void>((resolve) => { setImmediate(resolve) })
      .then(async () => { await this.run(false) })
      .catch((err: unknown) => {
        if (this.context.closed()) logger.info({ err }, 'compaction given up: the store is closing')
        else logger.error({ err }, 'compaction failed; the log keeps growing until the next one works')
      })
      .finally(() => { this.running = undefined })
  }

  /**
   * Starts one heal after a fault: the files rewritten from the chats in memory and appends moved
   * to the new log. Undefined when it cannot start now (a compaction under way, the store not
   * ready); else settles to whether it worked.
   */
  heal (): Promise<boolean> | undefined {
    if (this.running !== undefined || !this.context.ready()) return undefined
    const healed = this.run(true).then(() => true, (err: unknown) => {
      this.context.logger.warn({ err }, 'still read-only: rewriting the store files failed')
      return false
    })
    this.running = healed.then(() => { this.running = undefined })
    return healed
  }

  /** Waits for the compaction under way, if any, whatever its outcome. */
  async settled (): Promise<void> {
    await this.running?.catch(() => undefined)
  }

  /**
   * Writes a snapshot of the store and drops the files it covers. A new log is named in the
   * manifest first (beside the old ones), then, under the write lock, appends switch to it and the
   * chats are copied; the snapshot is written from that copy while requests go on, then a new
   * manifest names it and the new log only. A crash at any step leaves a manifest naming complete
   * files. Healing (after a fault) writes no intermediate manifest, as no write goes on meanwhile.
   */
  private async run (heal: boolean): Promise<void> {
    const { dataDir: dir, ops, logger, memory } = this.context
    const log = this.context.log()
    if (log === undefined || !this.context.ready()) return
    // A compaction switches away from the current log only when it holds every record it was
    // given: after a failed write it ends in a torn record, which only the last log may.
    if (!heal) {
      log.writePending()
      if (log.fault !== undefined) return
    }
    const started = performance.now()
    const n = this.manifest.next
    const newLog = logName(n)
    const snapshot = snapshotName(n)
    const previous = this.manifest
    this.manifest = { ...previous, next: n + 1 }
    const file = createLog(ops, dir, newLog)
    let switched = false
    try {
      const { chats, image, extras } = await memory.withAll((all, image) => {
        if (!heal) {
          // Under the write lock, so that nothing is appended meanwhile: the current log is
          // complete and synced before the manifest names a log after it (only the last log may
          // end in a torn record). The manifest in memory is changed first: after a failed
          // write, the file may name either.
          log.syncNow()
          this.manifest = { ...this.manifest, logs: [...previous.logs, newLog] }
          writeManifest(ops, dir, this.manifest)
          log.switchTo(file.fd, file.end)
        }
        return { chats: all, image: image(), extras: memory.extras() }
      })
      switched = !heal
      const index = await encodeIndexImage(image, chats).catch((err: unknown) => {
        logger.warn({ err }, 'the indexes could not be encoded')
        return undefined
      })
      // Saved indexes cover one owner (`MemoryChatStore.withAll`): with several, none is expected.
      if (index === undefined && image !== undefined) logger.warn({ chats: chats.length }, 'the snapshot is written without its indexes: the next start builds them')
      const bytes = await writeSnapshot(ops, dir, snapshot, chats, this.context.closed, index, extras)
      this.manifest = { version: 1, snapshot, logs: [newLog], next: n + 1 }
      writeManifest(ops, dir, this.manifest)
      if (heal) {
        await memory.exclusive(() => { log.switchTo(file.fd, file.end, true) })
        switched = true
      }
      this.snapshotBytes = bytes
      this.count++
      for (const name of [previous.snapshot, ...previous.logs]) {
        if (name !== null) this.unlinkQuietly(join(dir, name))
      }
      logger.info({ chats: chats.length, snapshotBytes: bytes, ms: Math.round(performance.now() - started) }, heal ? 'store healed: writes resume' : 'log compacted')
    } catch (err) {
      if (!switched) {
        try { ops.close(file.fd) } catch { /* it is being given up */ }
        if (this.manifest.logs.includes(newLog)) {
          // Nothing went to the new log: name the old files alone again, so that the current log,
          // which a failed write may have left with a torn record, stays the last one.
          const before = { ...previous, next: n + 1 }
          try {
            writeManifest(ops, dir, before)
            this.manifest = before
          } catch { /* the manifest names both; the next compaction or heal rewrites it */ }
        }
        if (!this.manifest.logs.includes(newLog)) this.unlinkQuietly(join(dir, newLog))
      }
      throw err
    }
  }

  private unlinkQuietly (path: string): void {
    try {
      this.context.ops.unlink(path)
    } catch (err) {
      this.context.logger.warn({ err, path }, 'could not remove a file compaction replaced; the next start removes it')
    }
  }
}
