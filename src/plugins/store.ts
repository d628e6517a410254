import fp from 'fastify-plugin'
import { clusterNodes, type Config } from '../config.js'
import type { ChatBackend } from '../store/backend.js'
import { ChatStore } from '../store/chat-store.js'
import { createDurableStore } from '../store/durable/durable-store.js'
import { MemoryChatStore } from '../store/memory/memory-store.js'
import { RedisChatStore } from '../store/redis/redis-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: ChatStore
    /** Settles when the store has loaded its data (at once for the memory-only store); rejects when it cannot. */
    storeRecovery: Promise<void>
  }
}

/**
 * Decorates the app with its one store (a fresh one per app), closed when the app closes: memory
 * only, durable in DATA_DIR, or in Redis (STORE=redis). Recovery runs in the background, so the server can listen and
 * answer /health/ready with a 503 meanwhile.
 */
export default fp<{ config: Config }>(async (app, { config }) => {
  const limits = {
    maxItems: config.MAX_ITEMS,
    maxItemsPerOwner: config.MAX_ITEMS_PER_OWNER,
    maxBytes: config.MAX_STORE_BYTES,
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    detectReentrance: config.NODE_ENV !== 'production',
    queryLog: app.log,
    historyVersions: config.HISTORY_VERSIONS,
    changesRetain: config.CHANGES_RETAIN,
    idempotencyTtlMs: config.IDEMPOTENCY_TTL_S * 1000,
    ...(config.CURSOR_SECRET === '' ? {} : { cursorKey: Buffer.from(config.CURSOR_SECRET) })
  }
  let backend: ChatBackend
  let recovery: Promise<void>
  if (config.STORE === 'redis') {
    const redis = new RedisChatStore({
      ...(config.REDIS_URL === '' ? {} : { url: config.REDIS_URL }),
      clusterNodes: clusterNodes(config.REDIS_CLUSTER_NODES),
      readFromReplicas: config.REDIS_READ_FROM_REPLICAS,
      waitReplicas: config.REDIS_WAIT_REPLICAS,
      listCacheChats: config.REDIS_LIST_CACHE_CHATS,
      keyPrefix: config.REDIS_KEY_PREFIX,
      // The wait for Redis is bounded like the wait for the in-process lock: past it, a 503.
      commandTimeoutMs: config.LOCK_TIMEOUT_MS,
      maxItems: config.MAX_ITEMS,
      maxItemsPerOwner: config.MAX_ITEMS_PER_OWNER,
      historyVersions: config.HISTORY_VERSIONS,
      changesRetain: config.CHANGES_RETAIN,
      idempotencyTtlMs: config.IDEMPOTENCY_TTL_S * 1000,
      ...(config.CURSOR_SECRET === '' ? {} : { cursorKey: Buffer.from(config.CURSOR_SECRET) })
    })
    backend = redis
    // Not ready until Redis answers; the client keeps reconnecting meanwhile, and /health/ready says so.
    recovery = redis.connected().catch((err: unknown) => { app.log.warn({ err }, 'Redis cannot be reached yet; the store reconnects by itself') })
  } else if (config.DATA_DIR === '') {
    backend = new MemoryChatStore(limits)
    recovery = Promise.resolve()
  } else {
    const durable = createDurableStore({
      ...limits,
      dataDir: config.DATA_DIR,
      fsync: config.FSYNC,
      compactMinBytes: config.COMPACT_MIN_BYTES,
      compactGrowthPercent: config.COMPACT_GROWTH_PERCENT,
      logger: app.log.child({ component: 'store' })
    })
    backend = durable
    recovery = durable.recovered
  }
  const store = new ChatStore(backend)
  app.decorate('store', store)
  app.decorate('storeRecovery', recovery)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
