/**
 * Whether a store write costs more when other work runs between writes, as in the service:
 * the load test's patch/replace/create bodies against a store of 10,000 chats, timed one op at
 * a time, with nothing in between, with a sweep over N MiB of memory in between (evicts CPU
 * caches, allocates nothing), and with N KiB of short-lived garbage allocated in between (what a
 * request leaves for the scavenger). Only the store call is timed; rounds alternate the modes.
 * Run: `node --import tsx load/cache-probe.ts [rounds] [sweepMiB] [garbageKiB]`.
 */
import { performance } from 'node:perf_hooks'
import { createMemoryStore } from '../src/store/memory/memory-store.js'
import { chatInput, CREATE_INPUTS, PATCH_INPUTS, pick, REPLACE_INPUTS } from './scenarios.js'

const [roundsArg = '5', sweepArg = '8', garbageArg = '16'] = process.argv.slice(2)
const OPS = 10_000
const sweep = new Int32Array(Number(sweepArg) * 2 ** 18)
let sink = 0
const evict = (): void => { for (let i = 0; i < sweep.length; i += 16) sink += sweep[i]! }
const allocate = (): void => {
  let keep: unknown = null
  for (let i = 0; i < Number(garbageArg) * 1024 / 64; i++) keep = { a: i, b: keep === null ? 0 : 1, c: 'x', d: null, e: i }
  sink += (keep as { a: number }).a
}
const nothing = (): void => {}
const store = createMemoryStore({ maxItems: 2_000_000, maxBytes: 0, lockTimeoutMs: 5000 })
const ids: string[] = []
for (let n = 0; n < 10_000; n++) ids.push((await store.create(chatInput(n) as never)).id)
const ops = {
  create: async () => { await store.create(JSON.parse(JSON.stringify(pick(CREATE_INPUTS))) as never) },
  patch: async () => { await store.update(pick(ids), JSON.parse(JSON.stringify(pick(PATCH_INPUTS))) as never) },
  replace: async () => { await store.replace(pick(ids), JSON.parse(JSON.stringify(pick(REPLACE_INPUTS))) as never) }
}
const modes = { plain: nothing, evict, garbage: allocate }
const best = new Map<string, number>()
for (let round = 0; round <= Number(roundsArg); round++) {
  for (const [op, run] of Object.entries(ops)) {
    for (const [mode, between] of Object.entries(modes)) {
      let spent = 0
      for (let i = 0; i < OPS; i++) {
        between()
        const t = performance.now()
        await run()
        spent += performance.now() - t
      }
      const key = `${op} ${mode}`
      if (round > 0) best.set(key, Math.min(best.get(key) ?? Infinity, spent * 1000 / OPS))
    }
  }
}
for (const [key, us] of best) process.stdout.write(`${key.padEnd(16)} ${us.toFixed(1)} µs/op\n`)
if (sink === 0.5) process.stdout.write('\n')
