/**
 * What a write costs the in-memory store alone, and the whole app without sockets (`app.inject`),
 * in µs per operation: the load test's bodies against a store seeded with 10,000 chats. Rounds
 * alternate the operations so that a busy machine weighs on each alike; the best round counts.
 * Run: `node --import tsx load/write-bench.ts [store|http] [rounds]`. Pass `--src <dir>` to load
 * another copy of `src/` (or a build's `dist/`, whose line numbers a profile keeps), `--only replace,…` to run some (an A/B against an older build in one session).
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { chatInput, CREATE_INPUTS as CREATE_BODIES, PATCH_INPUTS as PATCH_BODIES, pick, REPLACE_INPUTS as REPLACE_BODIES } from './scenarios.js'

const args = process.argv.slice(2)
const srcAt = args.indexOf('--src')
const SRC = srcAt >= 0 ? path.resolve(args.splice(srcAt, 2)[1]!) : path.resolve(import.meta.dirname, '..', 'src')
const EXT = existsSync(path.join(SRC, 'app.ts')) ? 'ts' : 'js'
const onlyAt = args.indexOf('--only')
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1]!.split(',') : undefined
const layer = args[0] ?? 'store'
const ROUNDS = Number(args[1] ?? 7)
const OPS = layer === 'store' ? 20_000 : 5_000


interface Ops {
  create: (body: object) => Promise<string>
  patch: (id: string, body: object) => Promise<void>
  replace: (id: string, body: object) => Promise<void>
  remove: (id: string) => Promise<void>
}

async function storeOps (): Promise<Ops> {
  const { createMemoryStore } = await import(pathToFileURL(path.join(SRC, `store/memory/memory-store.${EXT}`)).href) as typeof import('../src/store/memory/memory-store.js')
  const store = createMemoryStore({ maxItems: 2_000_000, maxBytes: 0, lockTimeoutMs: 5000 })
  return {
    create: async (body) => (await store.create(body as never)).id,
    patch: async (id, body) => { await store.update(id, body) },
    replace: async (id, body) => { await store.replace(id, body as never) },
    remove: async (id) => { await store.delete(id) }
  }
}

async function httpOps (): Promise<Ops> {
  const { buildApp } = await import(pathToFileURL(path.join(SRC, `app.${EXT}`)).href) as typeof import('../src/app.js')
  const { loadConfig } = await import(pathToFileURL(path.join(SRC, `config.${EXT}`)).href) as typeof import('../src/config.js')
  const config = loadConfig({}, { NODE_ENV: 'production', LOG_LEVEL: 'silent', MAX_ITEMS: 2_000_000, MAX_STORE_BYTES: 0, RATE_LIMIT_ALLOW_LIST: '127.0.0.1', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 0 } as never)
  const app = await buildApp({ config })
  const headers = { 'content-type': 'application/json' }
  const check = (status: number, want: number): void => { if (status !== want) throw new Error(`status ${status}, not ${want}`) }
  return {
    create: async (body) => {
      const res = await app.inject({ method: 'POST', url: '/chats', headers, payload: JSON.stringify(body) })
      check(res.statusCode, 201)
      return String(res.headers.location).slice(7)
    },
    patch: async (id, body) => { check((await app.inject({ method: 'PATCH', url: `/chats/${id}`, headers, payload: JSON.stringify(body) })).statusCode, 200) },
    replace: async (id, body) => { check((await app.inject({ method: 'PUT', url: `/chats/${id}`, headers, payload: JSON.stringify(body) })).statusCode, 200) },
    remove: async (id) => { check((await app.inject({ method: 'DELETE', url: `/chats/${id}` })).statusCode, 204) }
  }
}

const ops = layer === 'http' ? await httpOps() : await storeOps()
const seedIds: string[] = []
for (let n = 0; n < 10_000; n++) seedIds.push(await ops.create(chatInput(n)))
const pool: string[] = []

const runs: Record<string, () => Promise<void>> = {
  create: async () => { for (let i = 0; i < OPS; i++) pool.push(await ops.create(pick(CREATE_BODIES))) },
  patch: async () => { for (let i = 0; i < OPS; i++) await ops.patch(pick(seedIds), pick(PATCH_BODIES)) },
  replace: async () => { for (let i = 0; i < OPS; i++) await ops.replace(pick(seedIds), pick(REPLACE_BODIES)) },
  delete: async () => { for (let i = 0; i < OPS; i++) await ops.remove(pool.pop()!) }
}
const best: Record<string, number> = {}
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(runs)) {
    if (only !== undefined && !only.includes(name)) continue
    const started = performance.now()
    await run()
    const us = (performance.now() - started) * 1000 / OPS
    if (round > 0) best[name] = Math.min(best[name] ?? Infinity, us)
  }
}
process.stdout.write(`${layer} (${path.relative(process.cwd(), SRC) || '.'}), best of ${ROUNDS - 1} rounds, µs/op: ${Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(2)}`).join('  ')}\n`)
