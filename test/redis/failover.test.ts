import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { build } from '../helper.js'
import { failover, nodesOfKey } from '../support/failover.js'
import { redisCli, startCluster, until } from '../support/redis-cluster.js'

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

  it('writes at once after a planned failover of the owner\'s primary (CLUSTER FAILOVER), with REDIS_WAIT_REPLICAS=1', async () => {
    // A pipeline of a write script and WAIT gets MOVED from the old node; ioredis follows a
    // pipeline's MOVED only when every command got one, so the store must read the slot map again.
    const cluster = await startCluster()
    let app: FastifyInstance | undefined
    try {
      app = await build({ STORE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','), REDIS_KEY_PREFIX: `planned-${randomBytes(4).toString('hex')}`, REDIS_WAIT_REPLICAS: 1 })
      await app.storeRecovery
      const create = async (title: string): Promise<number> => (await app!.inject({ method: 'POST', url: '/chats', payload: { title } })).statusCode
      expect(await create('before')).toBe(201)
      const tag = `{${Buffer.from('default').toString('base64url')}}`
      const { primary, replica } = await nodesOfKey(cluster, tag)
      await redisCli(replica, 'cluster', 'failover')
      // Done when every node maps the owner's slot to the former replica, and the former primary follows it.
      await until('the planned failover', async () => {
        const roles = await redisCli(primary, 'role')
        if (!roles.startsWith('slave') || !roles.includes('connected')) return false
        const served = await Promise.all(cluster.nodes.map(async (n) => (await nodesOfKey(cluster, tag, n.port)).primary))
        return served.every((port) => port === replica)
      })
      const statuses: number[] = []
      for (let n = 0; n < 20; n++) statuses.push(await create(`after ${n}`))
      expect(statuses).toEqual(Array(20).fill(201))
      const list = await app.inject({ method: 'GET', url: '/chats?limit=100' })
      expect(list.json<{ total: number }>().total).toBe(21)
    } finally {
      await app?.close()
      await cluster.stop()
    }
  }, 60_000)
})
