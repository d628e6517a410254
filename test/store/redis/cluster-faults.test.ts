import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreError } from '../../../src/store/errors.js'
import { createRedisStore, type RedisStore } from '../../../src/store/redis/redis-store.js'
import { startCluster, type TestCluster } from '../../support/redis-cluster.js'

// A cluster of its own, which this file stops whole and starts again.
let cluster: TestCluster | undefined
let store: RedisStore
const TIMEOUT_MS = 400

beforeAll(async () => {
  cluster = await startCluster()
  store = createRedisStore({ clusterNodes: cluster.nodes, keyPrefix: 'cluster-faults', commandTimeoutMs: TIMEOUT_MS, maxItems: 1000 })
  await store.backend.connected()
}, 60_000)

afterAll(async () => {
  await store.close()
  await cluster?.stop()
})

async function eventually (what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('the Redis backend when the whole cluster is down', () => {
  it('answers unavailable within the timeout (never hangs), is not ready, and recovers by itself when the nodes are back', async () => {
    const chat = await store.create('o', { title: 'x' })
    await Promise.all(cluster!.processes.map(async (p) => { await p.kill() }))
    for (const call of [store.get('o', chat.id), store.list('o', { limit: 5 }), store.create('o', { title: 'y' }), store.delete('o', chat.id)]) {
      const started = Date.now()
      const err = await call.then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(StoreError)
      expect(err).toMatchObject({ code: 'unavailable', retryAfterSeconds: 1 })
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000)
    }
    expect((await store.health()).ready).toBe(false)
    // The nodes keep their cluster configuration (nodes-<port>.conf), not their data (no persistence).
    await Promise.all(cluster!.processes.map(async (p) => { await p.start() }))
    await eventually('ready', async () => (await store.health()).ready)
    await eventually('taking writes', async () => (await store.create('o', { title: 'after' })).version === 1)
    expect((await store.list('o', { limit: 5 })).items.map((c) => c.title)).toContain('after')
  }, 60_000)
})
