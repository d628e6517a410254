import { afterAll } from 'vitest'
import type { ChatStore } from '../../src/store/chat-store.js'
import { createMemoryStore } from '../../src/store/memory/memory-store.js'
import { describeBackend } from './backend-suite.js'
import { openStore, removeTempDirs, tempDir } from './durable/helpers.js'
import { describeNaiveModel } from './naive-model.js'

// The one suite, on every backend. A new backend adds its two lines here.
const memory = async (options = {}) => createMemoryStore({ maxItems: 10_000, maxBytes: 0, lockTimeoutMs: 60_000, detectReentrance: true, ...options })
const opened: ChatStore[] = []
const durable = async (options = {}) => {
  const store = await openStore(tempDir(), { maxItems: 10_000, detectReentrance: true, ...options })
  opened.push(store)
  return store
}

afterAll(async () => {
  // Closing twice is harmless; some tests close their store themselves.
  for (const store of opened) await store.close()
  removeTempDirs()
})

describeBackend('memory', memory)
describeNaiveModel('memory', memory)
describeBackend('durable', durable)
describeNaiveModel('durable', durable)
