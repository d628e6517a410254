import { afterEach, describe, expect, it, vi } from 'vitest'
import { Healer } from '../../../src/store/durable/healing.js'

afterEach(() => { vi.useRealTimers() })

describe('Healer', () => {
  it('tries every retryMs until an attempt heals, passing over the turns when none can start', async () => {
    vi.useFakeTimers()
    const outcomes = [undefined, false, true]
    let attempts = 0
    const healer = new Healer(() => {
      const outcome = outcomes[attempts++]
      return outcome === undefined ? undefined : Promise.resolve(outcome)
    }, 100)
    healer.start()
    healer.start()
    await vi.advanceTimersByTimeAsync(1000)
    expect(attempts).toBe(3)
  })

  it('stops trying when stopped', async () => {
    vi.useFakeTimers()
    let attempts = 0
    const healer = new Healer(() => { attempts++; return Promise.resolve(false) }, 100)
    healer.start()
    await vi.advanceTimersByTimeAsync(250)
    healer.stop()
    await vi.advanceTimersByTimeAsync(1000)
    expect(attempts).toBe(2)
  })
})
