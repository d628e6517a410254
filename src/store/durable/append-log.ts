import { StoreError } from '../errors.js'
import type { Change, ChatRecord, Journal } from '../records.js'
import type { FileOps } from './file-ops.js'
import { encodeEntry } from './record-codec.js'

export const FSYNC_MODES = ['always', 'everysec', 'no'] as const
export type FsyncMode = typeof FSYNC_MODES[number]

interface Waiter { target: number, resolve: () => void, reject: (err: Error) => void }
/** A change waiting to be written, with the chat it replaces or deletes. */
export interface PendingChange { change: Change, before: ChatRecord | undefined }

/**
 * The log grows by this much at a time, filled with zeros: appends then overwrite blocks the file
 * already has, so the fdatasync of FSYNC=always syncs data only, not the file's size (which on ext4
 * would mean a journal commit every time). Recovery reads zeros after the last record as the end,
 * and appends go right after that record (`AppendLog.openAt`), never after the zeros.
 */
export const PREALLOCATE_BYTES = 2 * 1024 * 1024
const ZEROS = Buffer.alloc(PREALLOCATE_BYTES)

/** The Retry-After of writes refused while the store is read-only. */
export const READ_ONLY_RETRY_S = 5

export function readOnlyError (fault: Error): StoreError {
  return new StoreError('unavailable', `The store is read-only: ${fault.message}`, { retryAfterSeconds: READ_ONLY_RETRY_S, cause: fault })
}

/**
 * The append-only log, Redis-style. Every change is encoded inside the store's write lock, as the
 * change is applied, and the records of one event-loop turn are written together (one write(2),
 * into the OS's cache) when the turn ends, as Redis writes its AOF buffer before it sleeps. A
 * writer's reply waits for that write (`durable()`), so a killed process loses nothing
 * acknowledged; a read writes what is waiting first (`writePending()`), so no answer shows a
 * change that is not in the file. FSYNC=always also waits for fdatasync before the reply, with
 * group commit: one sync covers every record written before it started. everysec syncs once a
 * second in the background; no leaves it to the OS. A failed write or sync puts the log in fault:
 * the writers waiting on it get a 503, and it refuses appends (503) until the store heals it.
 * Their changes stay in memory (a 503 does not say a write did not happen), and the heal writes
 * them with the rest.
 */
export class AppendLog implements Journal {
  /** Records appended, written to the file and synced, counted from the start. */
  private appended = 0
  private written = 0
  private synced = 0
  private syncing = false
  /** Records appended and not yet written, and their bytes. */
  private pending: Buffer[] = []
  private pendingChanges: PendingChange[] = []
  private pendingBytes = 0
  private writeScheduled = false
  /** Replies waiting for their record to be written (everysec, no) or synced (always). */
  private waiters: Waiter[] = []
  /** Files switched away from while a sync on them was running: closed when it ends. */
  private readonly retired = new Set<number>()
  private readonly timer: NodeJS.Timeout | undefined
  private faultError: Error | undefined
  private fd = -1
  /** Where the next record goes: right after the last one written. */
  private end = 0
  /** The file's size: `end` plus the zeros written ahead of it. */
  private allocated = 0

  /** Appends to `fd` from `end`, the end of its last good record (see `openAt`). */
  constructor (
    private readonly ops: FileOps,
    private readonly mode: FsyncMode,
    fd: number,
    end: number,
    private readonly events: {
      onAppend?: () => void
      onFault?: (err: Error) => void
      /** The changes of a write that failed, oldest first, to be taken back from the store. */
      onUnwritten?: (changes: readonly PendingChange[]) => void
    } = {}
  ) {
    this.openAt(fd, end)
    if (mode === 'everysec') this.timer = setInterval(() => { this.flush() }, 1000).unref()
  }

  /** The log's size in bytes, with the records waiting to be written. */
  get bytes (): number { return this.end + this.pendingBytes }

  /** Why the log refuses appends, when it does. */
  get fault (): Error | undefined { return this.faultError }

  /** Encodes the change for the write at the end of this event-loop turn; throws while the log is in fault. */
  append (change: Change, before: ChatRecord | undefined): void {
    if (this.faultError !== undefined) throw readOnlyError(this.faultError)
    const record = encodeEntry(change)
    this.pending.push(record)
    this.pendingChanges.push({ change, before })
    this.pendingBytes += record.length
    this.appended++
    if (!this.writeScheduled) {
      this.writeScheduled = true
      setImmediate(() => { this.writePending() })
    }
    this.events.onAppend?.()
  }

  /**
   * Resolves once every record appended so far is written (and, with FSYNC=always, synced);
   * undefined when it already is. Rejects with a 503 when the write or sync fails.
   */
  durable (): Promise<void> | undefined {
    if (this.done >= this.appended) return undefined
    // Records are counted past what was written (a failed write's, taken back): a writer that asks
    // after the failure cannot tell whether its record was among them, so it gets the 503.
    if (this.faultError !== undefined) return Promise.reject(readOnlyError(this.faultError))
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ target: this.appended, resolve, reject })
    })
  }

  /** Writes the records waiting, in one write(2); with FSYNC=always, starts a sync of them. */
  writePending (): void {
    this.writeScheduled = false
    if (this.pending.length === 0) return
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    const changes = this.pendingChanges
    this.dropPending()
    try {
      while (this.end + batch.length > this.allocated) this.preallocate()
      this.ops.write(this.fd, batch, this.end)
    } catch (err) {
      // Part of the batch may be in the file: a torn tail, which no later record follows (the log
      // refuses appends until the store switches to a new one) and which recovery cuts off.
      const fault = this.setFault('writing the log failed', err)
      this.events.onUnwritten?.(changes)
      this.fail(fault)
      return
    }
    this.end += batch.length
    this.written = this.appended
    if (this.mode === 'always') this.flush()
    else this.settle()
  }

  /** Starts a sync of everything written so far, unless one is running (which starts the next when it ends). */
  flush (): void {
    if (this.syncing || this.synced >= this.written) return
    this.syncing = true
    const fd = this.fd
    const target = this.written
    this.ops.fdatasyncAsync(fd).then(() => {
      this.markSynced(target)
    }, (err: unknown) => {
      this.fail(this.setFault('syncing the log failed', err))
    }).finally(() => {
      this.syncing = false
      if (this.retired.delete(fd)) this.closeQuietly(fd)
      if (this.waiters.length > 0) this.flush()
    }).catch(() => undefined)
  }

  /** Syncs everything now (before switching files, and at shutdown). */
  syncNow (): void {
    this.writePending()
    if (this.faultError !== undefined) throw this.faultError
    if (this.synced >= this.written) return
    try {
      this.ops.fdatasync(this.fd)
    } catch (err) {
      const fault = this.setFault('syncing the log failed', err)
      this.fail(fault)
      throw fault
    }
    this.markSynced(this.written)
  }

  /**
   * Goes on in a new, empty log. The current one is written and synced first (so an older log
   * never has a torn tail) and closed. With `heal`, the current one is given up (the store has
   * rewritten everything elsewhere, records still waiting included) and the fault is cleared.
   * Call with the store's write lock held.
   */
  switchTo (fd: number, end: number, heal = false): void {
    if (!heal) this.syncNow()
    const old = this.fd
    this.openAt(fd, end)
    if (heal) {
      this.dropPending()
      this.faultError = undefined
      this.written = this.synced = this.appended
      this.settle()
    }
    if (this.syncing) this.retired.add(old)
    else this.closeQuietly(old)
  }

  /** Stops the timer, writes what waits, syncs, gives back the preallocated zeros and closes the file. */
  close (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    try {
      this.writePending()
      if (this.faultError === undefined) {
        this.syncNow()
        this.ops.truncate(this.fd, this.end)
      }
    } finally {
      // Nothing answers a waiter after this: one still waiting (its sync failed) gets its 503 now.
      if (this.faultError !== undefined) this.fail(this.faultError)
      if (this.syncing) this.retired.add(this.fd)
      else this.closeQuietly(this.fd)
    }
  }

  /**
   * The one place that sets where appends go in a file: `end`, right after its last good record.
   * Whatever the file holds past it (a torn record, preallocated zeros from before a crash) is cut
   * off first, durably, so that every record appended follows the one before it with nothing
   * between: a log read back stops at its first zero or torn record.
   */
  private openAt (fd: number, end: number): void {
    if (this.ops.size(fd) > end) {
      this.ops.truncate(fd, end)
      this.ops.fdatasync(fd)
    }
    this.fd = fd
    this.end = end
    this.allocated = end
  }

  /** Writes zeros ahead of the end; its fdatasync is the only one that must also sync the file's size. */
  private preallocate (): void {
    this.ops.write(this.fd, ZEROS, this.allocated)
    this.allocated += ZEROS.length
  }

  /** How many records a reply may count on: written, or with FSYNC=always synced. */
  private get done (): number {
    return this.mode === 'always' ? this.synced : this.written
  }

  private markSynced (target: number): void {
    if (target > this.synced) this.synced = target
    if (this.mode === 'always') this.settle()
  }

  /** Answers the waiters whose records are done. */
  private settle (): void {
    if (this.waiters.length === 0) return
    const done = this.done
    const waiting: Waiter[] = []
    for (const w of this.waiters) {
      if (w.target <= done) w.resolve()
      else waiting.push(w)
    }
    this.waiters = waiting
  }

  /** Answers the waiters whose records are done, and refuses the others with the fault (a 503). */
  private fail (fault: Error): void {
    this.settle()
    const refused = this.waiters
    this.waiters = []
    for (const w of refused) w.reject(readOnlyError(fault))
  }

  private dropPending (): void {
    this.pending = []
    this.pendingChanges = []
    this.pendingBytes = 0
  }

  private setFault (what: string, err: unknown): Error {
    const cause = err instanceof Error ? err : new Error(String(err))
    const code = (cause as NodeJS.ErrnoException).code
    const fault = new Error(`${what} (${code ?? cause.message}); reads go on, writes resume once the disk takes them again`, { cause })
    const first = this.faultError === undefined
    this.faultError ??= fault
    if (first) this.events.onFault?.(fault)
    return this.faultError
  }

  private closeQuietly (fd: number): void {
    try {
      this.ops.close(fd)
    } catch { /* nothing more to lose: it was synced or given up */ }
  }
}
