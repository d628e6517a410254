import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { StoreError } from '../../src/store/errors.js'
import { LockTimeoutError, ReentrantLockError, RwLock } from '../../src/store/rw-lock.js'

const LONG = 60_000

/** Lets every promise callback that is ready run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

/** Queues an acquisition and records, in `granted`, its name once it is granted. */
function request (lock: RwLock, write: boolean, name: string, granted: string[]): void {
  const wait = write ? lock.acquireWrite() : lock.acquireRead()
  if (wait === undefined) granted.push(name)
  else void wait.then(() => { granted.push(name) }, () => { granted.push(`${name} rejected`) })
}

/**
 * The order a FIFO lock with writer preference must grant a queue in, while a writer holds it:
 * one writer at a time, and each run of readers between two writers together.
 */
function expectedBatches (kinds: boolean[]): string[][] {
  const batches: string[][] = []
  kinds.forEach((write, i) => {
    const name = `${write ? 'w' : 'r'}${i}`
    const last = batches.at(-1)
    if (!write && last?.[0]?.startsWith('r') === true) last.push(name)
    else batches.push([name])
  })
  return batches
}

describe('RwLock, proven', () => {
  afterEach(() => { vi.useRealTimers() })

  describe('the uncontended path', () => {
    it('allocates no promise and arms no timer', () => {
      vi.useFakeTimers()
      const lock = new RwLock(LONG)
      expect(lock.acquireRead()).toBeUndefined()
      expect(lock.acquireRead()).toBeUndefined()
      lock.releaseRead()
      lock.releaseRead()
      expect(lock.acquireWrite()).toBeUndefined()
      lock.releaseWrite()
      expect(vi.getTimerCount()).toBe(0)
      expect(lock.stats).toEqual({ waits: 0, waitMs: 0, timeouts: 0 })
    })

    it('releases a synchronous critical section before withRead/withWrite return', () => {
      vi.useFakeTimers()
      const lock = new RwLock(LONG)
      const done = lock.withWrite(() => 'written')
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      void lock.withRead(() => 'read')
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      expect(vi.getTimerCount()).toBe(0)
      return expect(done).resolves.toBe('written')
    })
  })

  describe('order', () => {
    it('serves any queue first come, first served, readers in a row together, writers alone', async () => {
      await fc.assert(fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), async (kinds) => {
        const lock = new RwLock(LONG)
        expect(lock.acquireWrite()).toBeUndefined()
        const granted: string[] = []
        kinds.forEach((write, i) => { request(lock, write, `${write ? 'w' : 'r'}${i}`, granted) })
        await settle()
        expect(granted).toEqual([])

        lock.releaseWrite()
        for (const batch of expectedBatches(kinds)) {
          await settle()
          expect(granted).toEqual(batch)
          const { readers, writer } = lock.state
          expect(writer ? 1 : readers).toBe(batch.length)
          expect(writer && readers > 0).toBe(false)
          granted.length = 0
          for (const name of batch) {
            if (name.startsWith('w')) lock.releaseWrite()
            else lock.releaseRead()
          }
        }
        await settle()
        expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      }))
    })

    it('never lets a stream of readers starve a writer', async () => {
      const lock = new RwLock(LONG)
      const granted: string[] = []
      request(lock, false, 'r-first', granted)
      request(lock, true, 'writer', granted)
      // Readers keep coming while the first one holds the lock; none of them overtakes the writer.
      for (let i = 0; i < 100; i++) request(lock, false, `r${i}`, granted)
      await settle()
      expect(granted).toEqual(['r-first'])
      expect(lock.state).toEqual({ readers: 1, writer: false, waiting: 101 })

      lock.releaseRead()
      await settle()
      expect(granted).toEqual(['r-first', 'writer'])
      lock.releaseWrite()
      await settle()
      // Then the hundred waiting readers go in together.
      expect(granted).toHaveLength(102)
      expect(lock.state).toEqual({ readers: 100, writer: false, waiting: 0 })
    })

    it('never lets a writer overlap anyone, whatever the sections do', async () => {
      const section = fc.record({ write: fc.boolean(), ticks: fc.nat({ max: 5 }), throws: fc.boolean() })
      await fc.assert(fc.asyncProperty(fc.array(section, { minLength: 1, maxLength: 25 }), async (sections) => {
        const lock = new RwLock(LONG, { detectReentrance: true })
        let readers = 0
        let writers = 0
        const run = async ({ write, ticks, throws }: typeof sections[number]): Promise<void> => {
          if (write) writers++
          else readers++
          expect(writers === 0 || (writers === 1 && readers === 0)).toBe(true)
          for (let i = 0; i < ticks; i++) await Promise.resolve()
          if (write) writers--
          else readers--
          if (throws) throw new Error('section failed')
        }
        const outcomes = await Promise.allSettled(sections.map((s) => s.write ? lock.withWrite(() => run(s)) : lock.withRead(() => run(s))))
        outcomes.forEach((outcome, i) => {
          expect(outcome.status).toBe(sections[i]!.throws ? 'rejected' : 'fulfilled')
        })
        expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      }))
    })
  })

  describe('timeouts', () => {
    it('reject a wait past the timeout with a 503 problem that says when to retry, and count it', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(100)
      expect(lock.acquireWrite()).toBeUndefined()
      const waiting = lock.withRead(() => 'never')
      const outcome = waiting.catch((err: unknown) => err)
      await vi.advanceTimersByTimeAsync(100)
      const err = await outcome
      expect(err).toBeInstanceOf(LockTimeoutError)
      expect(err).toBeInstanceOf(StoreError)
      expect(err).toMatchObject({ code: 'busy', retryAfterSeconds: 1 })
      expect(lock.stats.timeouts).toBe(1)
      expect(lock.state).toEqual({ readers: 0, writer: true, waiting: 0 })
      expect(vi.getTimerCount()).toBe(0)
    })

    it('disarm the timer of a wait that is granted in time', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(100)
      expect(lock.acquireWrite()).toBeUndefined()
      const granted: string[] = []
      request(lock, true, 'w', granted)
      expect(vi.getTimerCount()).toBe(1)
      lock.releaseWrite()
      await settle()
      expect(granted).toEqual(['w'])
      expect(vi.getTimerCount()).toBe(0)
      expect(lock.stats).toMatchObject({ waits: 1, timeouts: 0 })
    })
  })

  describe('release on throw', () => {
    it('frees the lock when a section throws, synchronously or not, and hands it to the next waiter', async () => {
      const lock = new RwLock(LONG)
      const failingWrite = lock.withWrite(async () => { await settle(); throw new Error('write failed') })
      const failingRead = lock.withRead(() => { throw new Error('read failed') })
      const next = lock.withWrite(() => 'next')
      await expect(failingWrite).rejects.toThrow('write failed')
      await expect(failingRead).rejects.toThrow('read failed')
      await expect(next).resolves.toBe('next')
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
    })
  })

  describe('re-entrance', () => {
    it('fails loudly, at once, when a section asks again for the lock it holds', async () => {
      const lock = new RwLock(LONG, { detectReentrance: true })
      await expect(lock.withWrite(() => lock.withWrite(() => 'inner'))).rejects.toThrow(ReentrantLockError)
      await expect(lock.withRead(() => lock.withRead(() => 'inner'))).rejects.toThrow(ReentrantLockError)
      await expect(lock.withRead(async () => {
        await settle()
        return await lock.withWrite(() => 'inner')
      })).rejects.toThrow(/re-entrant/)
      await expect(lock.withWrite(() => lock.acquireRead())).rejects.toThrow(ReentrantLockError)
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
      expect(lock.stats.timeouts).toBe(0)
    })

    it('is no false alarm: work a section started that asks for the lock after the section ended gets it', async () => {
      const lock = new RwLock(LONG, { detectReentrance: true })
      let later: Promise<string> | undefined
      await lock.withWrite(() => {
        later = new Promise((resolve) => setImmediate(resolve)).then(() => lock.withRead(() => 'later'))
      })
      await expect(later).resolves.toBe('later')
      await expect(Promise.all([lock.withRead(() => 1), lock.withWrite(() => 2), lock.withRead(() => 3)])).resolves.toEqual([1, 2, 3])
    })

    it('without detection (production) the same mistake deadlocks until the timeout: the reason tests turn it on', async () => {
      vi.useFakeTimers()
      const lock = new RwLock(100)
      const outcome = lock.withWrite(() => lock.withWrite(() => 'inner')).catch((err: unknown) => err)
      await vi.advanceTimersByTimeAsync(100)
      expect(await outcome).toBeInstanceOf(LockTimeoutError)
      expect(lock.state).toEqual({ readers: 0, writer: false, waiting: 0 })
    })
  })
})
