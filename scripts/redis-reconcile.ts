// npm run redis:reconcile: sets the global chat count behind MAX_ITEMS (STORE=redis) to the chats the
// owners hold. The count only errs high (a process that stopped between its reservation and its
// create, or a create whose answer was lost), so the store then holds fewer than MAX_ITEMS; run
// this with writes stopped (docs/redis.md). Reads the same environment as the service.
import { clusterNodes, loadConfig } from '../src/config.js'
import { RedisChatStore } from '../src/store/redis/redis-store.js'

const config = loadConfig()
if (config.STORE !== 'redis') {
  console.error('redis:reconcile needs STORE=redis and REDIS_URL or REDIS_CLUSTER_NODES')
  process.exit(2)
}
const store = new RedisChatStore({
  ...(config.REDIS_URL === '' ? {} : { url: config.REDIS_URL }),
  clusterNodes: clusterNodes(config.REDIS_CLUSTER_NODES),
  keyPrefix: config.REDIS_KEY_PREFIX,
  commandTimeoutMs: Math.max(config.LOCK_TIMEOUT_MS, 5000),
  maxItems: config.MAX_ITEMS
})
try {
  await store.connected()
  const { before, after, dropped } = await store.reconcileItems()
  console.log(`${config.REDIS_KEY_PREFIX}: the count was ${before}, the owners hold ${after}; the count is now ${after}` +
    (dropped > 0 ? `; deleted ${dropped} descending sort indexes of an older version` : ''))
} finally {
  await store.close()
}
