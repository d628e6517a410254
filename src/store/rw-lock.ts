import { AsyncLocalStorage } from 'node:async_hooks'
import { StoreError } from './errors.js'

interface Waiter {
  write: boolean
  resolve: () => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export interface LockStats {
  /** Acquisitions that had to wait, and their total wait in milliseconds. */
  waits: number
  waitMs: number
  timeouts: number
}

export interface RwLockOptions {
  /**
   * Fail at once, with a `ReentrantLockError`, when code that holds the lock (inside `withRead` or
   * `withWrite`) asks for it again, instead of deadlocking until the timeout. Costs an
   * AsyncLocalStorage scope per critical section: tests and development turn it on, production leaves it off.
   */
  detectReentrance?: boolean
}

/** A wait for the lock that lasted longer than the timeout: the store is busy, the caller may retry. */
export class LockTimeoutError extends StoreError {
  constructor (timeoutMs: number) {
    super('busy', `The store is busy: waited more than ${timeoutMs} ms for its lock`, { retryAfterSeconds: 1 })
    this.name = 'LockTimeoutError'
  }
}

/** A programming error: the lock was asked for by code that already holds it. */
export class ReentrantLockError extends Error {
  override name = 'ReentrantLockError'
}

/** What a critical section run under re-entrance detection knows about itself; `active` turns false when it ends. */
interface Hold { active: boolean }

type Section<T> = () => T | Promise<T>

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function'

/**
 * An async read-write lock: many readers or one writer. Waiters are served in arrival order,
 * and a waiting writer holds back readers that arrive after it, so a stream of readers never
 * starves a writer; the readers waiting at the head of the queue after a writer go in together.
 * A wait longer than `timeoutMs` fails with a 503 problem. The uncontended path allocates
 * nothing: `acquireRead`/`acquireWrite` return `undefined` when the lock is granted at once,
 * and a synchronous critical section releases the lock before `withRead`/`withWrite` return.
 */
export class RwLock {
  private readers = 0
  private writer = false
  private readonly queue: Waiter[] = []
  private readonly scope: AsyncLocalStorage<Hold> | undefined
  readonly stats: LockStats = { waits: 0, waitMs: 0, timeouts: 0 }

  constructor (private readonly timeoutMs: number, options: RwLockOptions = {}) {
    this.scope = options.detectReentrance === true ? new AsyncLocalStorage<Hold>() : undefined
  }

  acquireRead (): Promise<void> | undefined {
    if (this.scope !== undefined) this.refuseReentrance()
    if (!this.writer && this.queue.length === 0) {
      this.readers++
      return undefined
    }
    return this.enqueue(false)
  }

  acquireWrite (): Promise<void> | undefined {
    if (this.scope !== undefined) this.refuseReentrance()
    if (!this.writer && this.readers === 0 && this.queue.length === 0) {
      this.writer = true
      return undefined
    }
    return this.enqueue(true)
  }

  releaseRead (): void {
    if (this.readers === 0) throw new Error('RwLock: releaseRead without a read lock held')
    this.readers--
    if (this.readers === 0) this.drain()
  }

  releaseWrite (): void {
    if (!this.writer) throw new Error('RwLock: releaseWrite without the write lock held')
    this.writer = false
    this.drain()
  }

  /** Runs `fn` holding a read lock, released however `fn` ends. */
  async withRead<T> (fn: Section<T>): Promise<T> {
    const wait = this.acquireRead()
    if (wait !== undefined) await wait
    try {
      const result = this.scope === undefined ? fn() : this.runHeld(this.scope, fn)
      return isPromise(result) ? await result : result
    } finally {
      this.releaseRead()
    }
  }

  /** Runs `fn` holding the write lock, released however `fn` ends. */
  async withWrite<T> (fn: Section<T>): Promise<T> {
    const wait = this.acquireWrite()
    if (wait !== undefined) await wait
    try {
      const result = this.scope === undefined ? fn() : this.runHeld(this.scope, fn)
      return isPromise(result) ? await result : result
    } finally {
      this.releaseWrite()
    }
  }

  get state (): { readers: number, writer: boolean, waiting: number } {
    return { readers: this.readers, writer: this.writer, waiting: this.queue.length }
  }

  /** Runs `fn` marked as holding this lock, for as long as it runs (until its promise settles, when it returns one). */
  private runHeld<T> (scope: AsyncLocalStorage<Hold>, fn: Section<T>): T | Promise<T> {
    const hold: Hold = { active: true }
    let result: T | Promise<T>
    try {
      result = scope.run(hold, fn)
    } catch (err) {
      hold.active = false
      throw err
    }
    if (!isPromise(result)) {
      hold.active = false
      return result
    }
    return result.finally(() => { hold.active = false })
  }

  private refuseReentrance (): void {
    if (this.scope?.getStore()?.active === true) {
      throw new ReentrantLockError('RwLock: re-entrant acquisition: this code already holds the lock and would deadlock waiting for it')
    }
  }

  private enqueue (write: boolean): Promise<void> {
    const started = performance.now()
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        write,
        resolve: () => {
          clearTimeout(waiter.timer)
          this.stats.waits++
          this.stats.waitMs += performance.now() - started
          resolve()
        },
        reject,
        timer: setTimeout(() => {
          const at = this.queue.indexOf(waiter)
          if (at === -1) return
          this.queue.splice(at, 1)
          this.stats.timeouts++
          reject(new LockTimeoutError(this.timeoutMs))
          // A writer that gave up may have been holding back readers behind it.
          this.drain()
        }, this.timeoutMs)
      }
      this.queue.push(waiter)
    })
  }

  private drain (): void {
    if (this.writer) return
    const head = this.queue[0]
    if (head === undefined) return
    if (head.write) {
      if (this.readers === 0) {
        this.queue.shift()
        this.writer = true
        head.resolve()
      }
      return
    }
    while (this.queue.length > 0 && !this.queue[0]!.write) {
      this.readers++
      this.queue.shift()!.resolve()
    }
  }
}
