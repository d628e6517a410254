import { describe, expect, it } from 'vitest'
import { failover } from '../support/failover.js'

/**
 * A primary of a Redis Cluster killed under writes, its replica promoted. Redis replicates
 * asynchronously: with REDIS_WAIT_REPLICAS=1 a create is acknowledged only once a replica has it,
 * so none is lost; without, the last writes before the kill may be (`npm run load -- redis
 * failover` counts them). Either way, no answer is other than a 201 or a 503 with Retry-After,
 * and the service goes on by itself once the replica serves.
 */
describe('failover of a Redis Cluster primary under writes', () => {
  it('loses no acknowledged create with REDIS_WAIT_REPLICAS=1, answers 503 with Retry-After meanwhile, and recovers by itself', async () => {
    const outcome = await failover({ waitReplicas: 1 })
    expect(outcome.unexpected).toEqual([])
    expect(outcome.acknowledged).toBeGreaterThan(0)
    expect(outcome.lost).toBe(0)
    expect(outcome.unavailable).toBeGreaterThan(0)
    expect(outcome.acknowledgedAfterPromotion).toBeGreaterThan(0)
  }, 150_000)

  it('answers only 201s and 503s without REDIS_WAIT_REPLICAS, and recovers by itself', async () => {
    const outcome = await failover({ waitReplicas: 0 })
    expect(outcome.unexpected).toEqual([])
    expect(outcome.unavailable).toBeGreaterThan(0)
    expect(outcome.acknowledgedAfterPromotion).toBeGreaterThan(0)
  }, 150_000)
})
