import { AppError } from '../../errors.js'
import type { Change, Journal } from '../memory/memory-store.js'
import type { FileOps } from './file-ops.js'
import { encodeEntry } from './record-codec.js'

export const FSYNC_MODES = ['always', 'everysec', 'no'] as const
export type FsyncMode = typeof FSYNC_MODES[number]

interface Waiter { target: number, resolve: () => void, reject: (err: Error) => void }

/**
 * The log grows by this much at a time, filled with zeros: appends then overwrite blocks the file
 * already has, so the fdatasync of FSYNC=always syncs data only, not the file's size (which on ext4
 * would mean a journal commit every time). Recovery reads zeros after the last record as the end.
 */
export const PREALLOCATE_BYTES = 2 * 1024 * 1024
const ZEROS = Buffer.alloc(PREALLOCATE_BYTES)

/** The Retry-After of writes refused while the store is read-only. */
export const READ_ONLY_RETRY_S = 5

export function readOnlyError (fault: Error): AppError {
  return new AppError('unavailable', `The store is read-only: ${fault.message}`, { retryAfter: READ_ONLY_RETRY_S, cause: fault })
}

/**
 * The append-only log, Redis-style: every change is written (write(2), into the OS's cache)
 * inside the store's write lock before the change is applied, so a killed process loses nothing
 * acknowledged. FSYNC=always also waits for fdatasync before the reply, with group commit: one
 * sync covers every record appended before it started. everysec syncs once a second in the
 * background; no leaves it to the OS. A failed write or sync puts the log in fault: it refuses
 * appends (503) until the store heals it.
 */
export class AppendLog implements Journal {
  private appended = 0
  private synced = 0
  private syncing = false
  private waiters: Waiter[] = []
  /** Files switched away from while a sync on them was running: closed when it ends. */
  private readonly retired = new Set<number>()
  private readonly timer: NodeJS.Timeout | undefined
  private faultError: Error | undefined
  /** The file's size: `end` plus the zeros written ahead of it. */
  private allocated: number

  constructor (
    private readonly ops: FileOps,
    private readonly mode: FsyncMode,
    private fd: number,
    private end: number,
    private readonly events: { onAppend?: () => void, onFault?: (err: Error) => void } = {}
  ) {
    if (mode === 'everysec') this.timer = setInterval(() => { this.flush() }, 1000).unref()
    this.allocated = ops.size(fd)
  }

  /** The log's size in bytes. */
  get bytes (): number { return this.end }

  /** Why the log refuses appends, when it does. */
  get fault (): Error | undefined { return this.faultError }

  append (change: Change): void {
    if (this.faultError !== undefined) throw readOnlyError(this.faultError)
    const record = encodeEntry(change)
    try {
      if (this.end + record.length > this.allocated) this.preallocate()
      this.ops.write(this.fd, record, this.end)
    } catch (err) {
      throw readOnlyError(this.setFault('writing the log failed', err))
    }
    this.end += record.length
    this.appended++
    this.events.onAppend?.()
  }

  /** With FSYNC=always, resolves once every record appended so far is on disk; otherwise at once. */
  durable (): Promise<void> | undefined {
    if (this.mode !== 'always' || this.synced >= this.appended) return undefined
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ target: this.appended, resolve, reject })
      this.flush()
    })
  }

  /** Starts a sync of everything appended so far, unless one is running (which starts the next when it ends). */
  flush (): void {
    if (this.syncing || this.synced >= this.appended) return
    this.syncing = true
    const fd = this.fd
    const target = this.appended
    this.ops.fdatasyncAsync(fd).then(() => {
      this.markSynced(target)
    }, (err: unknown) => {
      const fault = this.setFault('syncing the log failed', err)
      const waiters = this.waiters
      this.waiters = []
      for (const w of waiters) w.reject(readOnlyError(fault))
    }).finally(() => {
      this.syncing = false
      if (this.retired.delete(fd)) this.closeQuietly(fd)
      if (this.waiters.length > 0) this.flush()
    }).catch(() => undefined)
  }

  /** Syncs everything now (before switching files, and at shutdown). */
  syncNow (): void {
    if (this.synced >= this.appended) return
    try {
      this.ops.fdatasync(this.fd)
    } catch (err) {
      throw this.setFault('syncing the log failed', err)
    }
    this.markSynced(this.appended)
  }

  /**
   * Goes on in a new, empty log. The current one is synced first (so an older log never has a torn
   * tail) and closed. With `heal`, the current one is given up unsynced (the store has rewritten
   * everything elsewhere) and the fault is cleared. Call with the store's write lock held.
   */
  switchTo (fd: number, end: number, heal = false): void {
    if (!heal) this.syncNow()
    const old = this.fd
    this.fd = fd
    this.end = end
    this.allocated = this.ops.size(fd)
    if (heal) {
      this.faultError = undefined
      this.markSynced(this.appended)
    }
    if (this.syncing) this.retired.add(old)
    else this.closeQuietly(old)
  }

  /** Stops the timer, syncs, gives back the preallocated zeros and closes the file. */
  close (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    try {
      if (this.faultError === undefined) {
        this.syncNow()
        this.ops.truncate(this.fd, this.end)
      }
    } finally {
      if (this.syncing) this.retired.add(this.fd)
      else this.closeQuietly(this.fd)
    }
  }

  /** Writes zeros ahead of the end; its fdatasync is the only one that must also sync the file's size. */
  private preallocate (): void {
    const from = Math.max(this.allocated, this.end)
    this.ops.write(this.fd, ZEROS, from)
    this.allocated = from + ZEROS.length
  }

  private markSynced (target: number): void {
    if (target > this.synced) this.synced = target
    if (this.waiters.length === 0) return
    const waiting: Waiter[] = []
    for (const w of this.waiters) {
      if (w.target <= this.synced) w.resolve()
      else waiting.push(w)
    }
    this.waiters = waiting
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
