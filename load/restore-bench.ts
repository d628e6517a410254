/**
 * What recovery's `restore` costs now that it rebuilds the query indexes: times `restore` of a map
 * of chats. Run: `node --import tsx load/restore-bench.ts [chats]` (default 100,000).
 */
import { performance } from 'node:perf_hooks'
import { MemoryChatStore, type ChatRecord } from '../src/store/memory/memory-store.js'

const n = Number(process.argv[2] ?? 100_000)
const WORDS = ['project', 'update', 'meeting', 'launch', 'review', 'customer', 'design', 'budget', 'weekly', 'sync']
const chats = new Map<string, ChatRecord>()
for (let i = 0; i < n; i++) {
  const id = `0190${String(i).padStart(32, '0')}`
  const t = Date.UTC(2025, 0, 1) + i
  chats.set(id, {
    id,
    title: `Title ${WORDS[i % 10]!} ${i % 997}`,
    description: `${WORDS[(i * 7) % 10]!} ${WORDS[(i * 3) % 10]!} text ${i % 5003}`,
    priority: (['low', 'medium', 'high'] as const)[i % 3]!,
    isActive: i % 4 !== 0,
    createdAt: t,
    updatedAt: t,
    version: 1
  })
}
const store = new MemoryChatStore({ maxItems: n, maxBytes: 0, lockTimeoutMs: 1000 })
const started = performance.now()
store.restore(chats)
process.stdout.write(`restore of ${n.toLocaleString('en')} chats: ${((performance.now() - started) / 1000).toFixed(2)} s\n`)
