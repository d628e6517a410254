import { AppError } from '../errors.js'

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

/**
 * An async read-write lock: many readers or one writer. Waiters are served in arrival order,
 * and a waiting writer holds back readers that arrive after it, so a stream of readers never
 * starves a writer; the readers waiting at the head of the queue after a writer go in together.
 * A wait longer than `timeoutMs` fails with a 503 problem. The uncontended path allocates
 * nothing: `acquireRead`/`acquireWrite` return `undefined` when the lock is granted at once.
 */
export class RwLock {
  private readers = 0
  private writer = false
  private readonly queue: Waiter[] = []
  readonly stats: LockStats = { waits: 0, waitMs: 0, timeouts: 0 }

  constructor (private readonly timeoutMs: number) {}

  acquireRead (): Promise<void> | undefined {
    if (!this.writer && this.queue.length === 0) {
      this.readers++
      return undefined
    }
    return this.enqueue(false)
  }

  acquireWrite (): Promise<void> | undefined {
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
  async withRead<T> (fn: () => T | Promise<T>): Promise<T> {
    const wait = this.acquireRead()
    if (wait !== undefined) await wait
    try {
      return await fn()
    } finally {
      this.releaseRead()
    }
  }

  /** Runs `fn` holding the write lock, released however `fn` ends. */
  async withWrite<T> (fn: () => T | Promise<T>): Promise<T> {
    const wait = this.acquireWrite()
    if (wait !== undefined) await wait
    try {
      return await fn()
    } finally {
      this.releaseWrite()
    }
  }

  get state (): { readers: number, writer: boolean, waiting: number } {
    return { readers: this.readers, writer: this.writer, waiting: this.queue.length }
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
          reject(new AppError('unavailable', `The store is busy: waited more than ${this.timeoutMs} ms for its lock`, { retryAfter: 1 }))
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
