import { randomBytes } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import type { MemoryStoreOptions } from '../../src/store/memory/memory-store.js'
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js'
import type { RedisTarget } from '../../src/store/redis/connection.js'

/** The machine's own Redis (no persistence), for tests: `REDIS_TEST_URL`, or 127.0.0.1:6379. */
export const LOCAL_REDIS_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test (file, store, or another engineer's run) uses. */
export function uniquePrefix (name = 'test'): string {
  return `t-${name}-${process.pid}-${randomBytes(4).toString('hex')}`
}

/** Deletes every key of the prefixes on every primary of the target. */
export async function deletePrefixes (target: Pick<RedisTarget, 'url' | 'clusterNodes'>, prefixes: readonly string[]): Promise<void> {
  if (prefixes.length === 0) return
  const client = target.clusterNodes !== undefined && target.clusterNodes.length > 0
    ? new Cluster([...target.clusterNodes])
    : new Redis(target.url ?? LOCAL_REDIS_URL)
  try {
    const nodes = client instanceof Cluster ? await readyMasters(client) : [client]
    for (const node of nodes) {
      for (const prefix of prefixes) {
        let cursor = '0'
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
          cursor = next
          // One key a call: in a cluster, the keys of one node still lie in many slots.
          for (const key of keys) await node.del(key)
        } while (cursor !== '0')
      }
    }
  } finally {
    client.disconnect()
  }
}

async function readyMasters (cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready') await new Promise<void>((resolve, reject) => { cluster.once('ready', resolve); cluster.once('error', reject) })
  return cluster.nodes('master')
}

/**
 * A `MakeStore` for the backend suite on Redis: each store gets a prefix of its own (so that stores
 * share nothing, as fresh memory stores do), remembered for `cleanup`.
 */
export function redisStores (target: Omit<RedisTarget, 'commandTimeoutMs'>, extra: Partial<RedisStoreOptions> = {}): {
  make: (options?: Partial<MemoryStoreOptions>) => Promise<RedisStore>
  cleanup: () => Promise<void>
} {
  const prefixes: string[] = []
  const stores: RedisStore[] = []
  return {
    async make (options = {}) {
      const prefix = uniquePrefix('store')
      prefixes.push(prefix)
      const store = createRedisStore({
        ...target,
        commandTimeoutMs: 5000,
        keyPrefix: prefix,
        maxItems: options.maxItems ?? 10_000,
        ...(options.maxItemsPerOwner === undefined ? {} : { maxItemsPerOwner: options.maxItemsPerOwner }),
        ...(options.now === undefined ? {} : { now: options.now }),
        ...(options.ids === undefined ? {} : { ids: options.ids }),
        ...(options.historyVersions === undefined ? {} : { historyVersions: options.historyVersions }),
        ...(options.changesRetain === undefined ? {} : { changesRetain: options.changesRetain }),
        ...(options.idempotencyTtlMs === undefined ? {} : { idempotencyTtlMs: options.idempotencyTtlMs }),
        ...extra
      })
      await store.backend.connected()
      stores.push(store)
      return store
    },
    async cleanup () {
      for (const store of stores) await store.close()
      await deletePrefixes(target, prefixes)
    }
  }
}
