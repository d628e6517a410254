import { afterEach, describe, it, expect, vi } from 'vitest'
import { StoreError } from '../../src/store/errors.js'
import { RwLock } from '../../src/store/rw-lock.js'

/** A lock acquisition whose outcome the test can look at without awaiting it. */
interface Ticket {
  status: 'pending' | 'granted' | 'rejected'
  error: unknown
}

function ticket (wait: Promise<void> | undefined): Ticket {
  const t: Ticket = { status: wait === undefined ? 'granted' : 'pending', error: undefined }
  wait?.then(() => { t.status = 'granted' }, (err: unknown) => { t.status = 'rejected'; t.error = err })
  return t
}

/** Lets every promise callback that is ready run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

/** For an acquisition the lock must grant at once (no promise to wait on). */
function holdAtOnce (wait: Promise<void> | undefined): void {
  expect(wait).toBeUndefined()
}

const statuses = (...tickets: Ticket[]): string[] => tickets.map((t) => t.status)

const LONG = 60_000

describe('RwLock', () => {
  afterEach(() => { vi.useRealTimers() })

  it('grants an uncontended lock at once, without a promise', () => {
    const lock = new RwLock(LONG)
    expect(lock.acquireRead()).toBeUndefined()
    lock.releaseRead()
    expect(lock.acquireWrite()).toBeUndefined()
    expect(lock.state).toEqual({ readers: 0, writer: true, waiting: 0 })
    lock.releaseWrite()
    expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
    expect(lock.stats.waits).toBe(0)
  })

  it('lets readers share', () => {
    const lock = new RwLock(LONG)
    expect([lock.acquireRead(), lock.acquireRead(), lock.acquireRead()]).toEqual([undefined, undefined, undefined])
    expect(lock.state.readers).toBe(3)
  })

  it('gives a writer the lock alone: readers and writers that come meanwhile wait for it', async () => {
    const lock = new RwLock(LONG)
    expect(lock.acquireWrite()).toBeUndefined()
    const reader = ticket(lock.acquireRead())
    const writer = ticket(lock.acquireWrite())
    await settle()
    expect(statuses(reader, writer)).toEqual(['pending', 'pending'])

    lock.releaseWrite()
    await settle()
    // First come, first served: the reader was first.
    expect(statuses(reader, writer)).toEqual(['granted', 'pending'])
    lock.releaseRead()
    await settle()
    expect(writer.status).toBe('granted')
    expect(lock.state).toEqual({ readers: 0, writer: true, waiting: 0 })
  })

  it('makes a writer wait until every reader has left', async () => {
    const lock = new RwLock(LONG)
    holdAtOnce(lock.acquireRead())
    holdAtOnce(lock.acquireRead())
    const writer = ticket(lock.acquireWrite())
    lock.releaseRead()
    await settle()
    expect(writer.status).toBe('pending')
    lock.releaseRead()
    await settle()
    expect(writer.status).toBe('granted')
  })

  it('serves waiting writers in arrival order', async () => {
    const lock = new RwLock(LONG)
    holdAtOnce(lock.acquireWrite())
    const order: number[] = []
    const waits = [1, 2, 3].map((n) => lock.acquireWrite()!.then(() => { order.push(n) }))
    for (let i = 0; i < 3; i++) {
      lock.releaseWrite()
      await settle()
      expect(order).toEqual([1, 2, 3].slice(0, i + 1))
    }
    await Promise.all(waits)
  })

  it('prefers a waiting writer: a reader that comes after it queues behind it, even while only readers hold the lock', async () => {
    const lock = new RwLock(LONG)
    holdAtOnce(lock.acquireRead())
    const writer = ticket(lock.acquireWrite())
    const lateReader = ticket(lock.acquireRead())
    await settle()
    expect(statuses(writer, lateReader)).toEqual(['pending', 'pending'])

    lock.releaseRead()
    await settle()
    expect(statuses(writer, lateReader)).toEqual(['granted', 'pending'])
    lock.releaseWrite()
    await settle()
    expect(lateReader.status).toBe('granted')
  })

  it('lets the readers queued together after a writer in together, and stops at the next writer', async () => {
    const lock = new RwLock(LONG)
    holdAtOnce(lock.acquireWrite())
    const r1 = ticket(lock.acquireRead())
    const r2 = ticket(lock.acquireRead())
    const r3 = ticket(lock.acquireRead())
    const w2 = ticket(lock.acquireWrite())
    const r4 = ticket(lock.acquireRead())

    lock.releaseWrite()
    await settle()
    expect(statuses(r1, r2, r3, w2, r4)).toEqual(['granted', 'granted', 'granted', 'pending', 'pending'])
    expect(lock.state).toEqual({ readers: 3, writer: false, waiting: 2 })

    lock.releaseRead()
    lock.releaseRead()
    await settle()
    expect(w2.status).toBe('pending')
    lock.releaseRead()
    await settle()
    expect(statuses(w2, r4)).toEqual(['granted', 'pending'])
    lock.releaseWrite()
    await settle()
    expect(r4.status).toBe('granted')
    expect(lock.stats.waits).toBe(5)
  })

  describe('timeouts', () => {
    it('rejects a wait longer than the timeout with a 503 unavailable problem, and drops it from the queue', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(50)
      holdAtOnce(lock.acquireWrite())
      const reader = ticket(lock.acquireRead())
      await vi.advanceTimersByTimeAsync(49)
      expect(reader.status).toBe('pending')
      await vi.advanceTimersByTimeAsync(1)
      expect(reader.status).toBe('rejected')
      expect(reader.error).toBeInstanceOf(StoreError)
      expect(reader.error).toMatchObject({ code: 'busy', retryAfterSeconds: 1 })
      expect(lock.state).toEqual({ readers: 0, writer: true, waiting: 0 })
      expect(lock.stats.timeouts).toBe(1)

      // The reader that gave up holds nothing: the writer leaves, and the lock is free.
      lock.releaseWrite()
      expect(lock.acquireWrite()).toBeUndefined()
    })

    it('rejects a waiting writer the same way', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(50)
      holdAtOnce(lock.acquireRead())
      const writer = ticket(lock.acquireWrite())
      await vi.advanceTimersByTimeAsync(50)
      expect(writer.status).toBe('rejected')
      expect(writer.error).toMatchObject({ code: 'busy' })
      lock.releaseRead()
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
    })

    it('lets in the readers a timed-out writer was holding back', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(50)
      holdAtOnce(lock.acquireRead())
      const writer = ticket(lock.acquireWrite())
      await vi.advanceTimersByTimeAsync(30)
      const reader = ticket(lock.acquireRead())
      await vi.advanceTimersByTimeAsync(20)
      expect(statuses(writer, reader)).toEqual(['rejected', 'granted'])
      expect(lock.state).toEqual({ readers: 2, writer: false, waiting: 0 })

      // Granted in time, the reader's own timer no longer fires.
      await vi.advanceTimersByTimeAsync(1000)
      expect(reader.status).toBe('granted')
      expect(lock.stats.timeouts).toBe(1)
    })

    it('never rejects a wait that was granted before its timeout', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(50)
      holdAtOnce(lock.acquireWrite())
      const writer = ticket(lock.acquireWrite())
      await vi.advanceTimersByTimeAsync(40)
      lock.releaseWrite()
      await vi.advanceTimersByTimeAsync(1000)
      expect(writer.status).toBe('granted')
      expect(lock.stats).toMatchObject({ waits: 1, timeouts: 0 })
    })
  })

  describe('withRead and withWrite', () => {
    it('return what the function returns, sync or async, and release the lock', async () => {
      const lock = new RwLock(LONG)
      await expect(lock.withRead(() => 1)).resolves.toBe(1)
      await expect(lock.withWrite(async () => 2)).resolves.toBe(2)
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
    })

    it('release the lock when the function throws', async () => {
      const lock = new RwLock(LONG)
      await expect(lock.withWrite(() => { throw new Error('boom') })).rejects.toThrow('boom')
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      await expect(lock.withRead(async () => { throw new Error('bang') })).rejects.toThrow('bang')
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      expect(lock.acquireWrite()).toBeUndefined()
    })

    it('hand the lock to the next waiter after a throw', async () => {
      const lock = new RwLock(LONG)
      const failing = lock.withWrite(async () => { await settle(); throw new Error('boom') })
      const next = lock.withWrite(() => 'next')
      await expect(failing).rejects.toThrow('boom')
      await expect(next).resolves.toBe('next')
    })

    it('keep a writer\'s function from overlapping with readers\' ones', async () => {
      const lock = new RwLock(LONG)
      const events: string[] = []
      const step = (name: string) => async () => { events.push(`${name} in`); await settle(); events.push(`${name} out`) }
      await Promise.all([lock.withRead(step('r1')), lock.withWrite(step('w')), lock.withRead(step('r2'))])
      expect(events).toEqual(['r1 in', 'r1 out', 'w in', 'w out', 'r2 in', 'r2 out'])
    })
  })

  describe('releasing a lock not held', () => {
    it('throws for a read', () => {
      expect(() => { new RwLock(LONG).releaseRead() }).toThrow(/without a read lock/)
    })

    it('throws for a write, also while readers hold the lock, and changes nothing', () => {
      const lock = new RwLock(LONG)
      expect(() => { lock.releaseWrite() }).toThrow(/without the write lock/)
      holdAtOnce(lock.acquireRead())
      expect(() => { lock.releaseWrite() }).toThrow(/without the write lock/)
      expect(lock.state).toEqual({ readers: 1, writer: false, waiting: 0 })
    })

    it('throws for a read while only a writer holds the lock', () => {
      const lock = new RwLock(LONG)
      holdAtOnce(lock.acquireWrite())
      expect(() => { lock.releaseRead() }).toThrow()
      expect(lock.state).toEqual({ readers: 0, writer: true, waiting: 0 })
    })
  })
})
