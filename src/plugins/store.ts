import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import type { ChatStore } from '../store/chat-store.js'
import { createMemoryStore } from '../store/memory/memory-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: ChatStore
  }
}

/** Decorates the app with its one store (a fresh one per app), closed when the app closes. */
export default fp<{ config: Config }>(async (app, { config }) => {
  const store = createMemoryStore({
    maxItems: config.MAX_ITEMS,
    maxBytes: config.MAX_STORE_BYTES,
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    detectReentrance: config.NODE_ENV !== 'production'
  })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
