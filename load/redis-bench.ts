/**
 * The Redis backend against the in-memory store, on a private redis-server this benchmark starts
 * (a free port, no persistence) and stops. `npm run load -- redis [throughput] [growth] [memory]`
 * (all three by default):
 *
 * - throughput: GET by id, create, patch and a filtered sorted page with `q`, for STORE=memory,
 *   STORE=redis with one service process, and with two processes on the same Redis (the load
 *   split between them: two autocannon runs at once, half the connections each), in turns, so a
 *   busy machine weighs on all alike. Targets: GET and create on Redis ≥ 0.50 of memory.
 * - growth: p50/p99 of the filtered page for one owner holding 1K, 10K and 100K chats, and for an
 *   owner of 10K while other owners hold 0, 100K and 1M chats (AUTH_MODE=api-key, one key per
 *   measured owner; other owners' chats are written straight through the store). Target: the
 *   page for an owner of 10K under 10 ms at p99, and no slower as other owners grow. Each figure
 *   from a process with the list cache and from one with REDIS_LIST_CACHE_CHATS=0.
 * - memory: `INFO memory`'s used_memory before and after 1M chats in 1,000 owners, per chat.
 * - failover (only when named): a Redis Cluster primary killed under writes, with and without
 *   REDIS_WAIT_REPLICAS=1: acknowledged creates lost, per round.
 *
 * Env: BENCH_SECONDS (5) per measured run, BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
 * BENCH_MEMORY_CHATS (1000000), BENCH_SCENARIOS (get,create,patch,list q: the throughput rows), BENCH_LIST_CONNECTIONS (1,10: one column pair each) for the growth table.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createRedisStore } from '../src/store/redis/redis-store.js'
import type { ChatInput } from '../src/store/types.js'
import { failover } from '../test/support/failover.js'
import { apiKeysFile } from './auth.js'
import { combineParts, measure, seed, type Part } from './bench.js'
import { deployedEnv, freePort, startServer, type ServerProcess } from './processes.js'
import { median } from './report.js'
import { autocannonOptions, chatInput, scenarioRequests, type Pools } from './scenarios.js'

const ROOT = new URL('..', import.meta.url).pathname
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const LIST_CONNECTIONS = (process.env.BENCH_LIST_CONNECTIONS ?? '1,10').split(',').map(Number)
const MEMORY_CHATS = Number(process.env.BENCH_MEMORY_CHATS ?? 1_000_000)
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'get,create,patch,list q').split(',') as Scenario[]
const SEED = 10_000
// A twelfth of the load test's chats match (`the launch`: a quarter, all active; high: a third).
const LIST_Q = '/chats?priority=high&isActive=true&sort=-createdAt&limit=20&q=launch'

const parts = new Set(process.argv.slice(2).filter((a) => !a.startsWith('-')))
const wants = (part: string): boolean => parts.size === 0 || parts.has(part)

const UNLIMITED = {
  RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1,::ffff:127.0.0.1', RATE_LIMIT_READ_MAX: '1000000000', RATE_LIMIT_WRITE_MAX: '1000000000',
  MAX_ITEMS: '5000000', MAX_STORE_BYTES: '0', LOG_LEVEL: 'warn', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0'
}

async function startRedis (dir: string): Promise<{ url: string, port: number, child: ChildProcess }> {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  for (let i = 0; ; i++) {
    // A client per attempt: one that failed to connect is still retrying.
    const client = new Redis({ port, lazyConnect: true, retryStrategy: () => null })
    client.on('error', () => undefined)
    try { await client.connect(); await client.ping(); break } catch (err) { if (i > 100) throw err; await sleep(50) } finally { client.disconnect() }
  }
  return { url: `redis://127.0.0.1:${port}`, port, child }
}

async function service (name: string, env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort()
  return await startServer({
    name,
    nodeArgs: [path.join(ROOT, 'dist', 'server.js')],
    cwd: ROOT,
    port,
    env: { ...deployedEnv(), AUTH_MODE: 'none', HOST: '127.0.0.1', PORT: String(port), ...UNLIMITED, ...env },
    logFile: '/dev/null',
    readyPath: '/health/ready'
  })
}

/** A target: one or more processes serving the same chats, the load split evenly between them. */
interface Target { name: string, servers: ServerProcess[], pools: Pools }

type Scenario = 'get' | 'create' | 'patch' | 'list q'

function requestsOf (scenario: Scenario, pools: Pools): ReturnType<typeof scenarioRequests> {
  if (scenario === 'list q') return [{ method: 'GET', path: LIST_Q }]
  return scenarioRequests(scenario, { dialect: 'service', pools, filteredList: true })
}

/** One measured run of a scenario on a target: each process gets its share of the connections, at once. */
async function runOn (target: Target, scenario: Scenario): Promise<{ rps: number, p50: number, p99: number, errors: number }> {
  const share = Math.max(1, Math.round(CONNECTIONS / target.servers.length))
  const results = await Promise.all(target.servers.map(async (server) => {
    const options = autocannonOptions(server.url, scenario, requestsOf(scenario, target.pools), { duration: SECONDS, connections: share })
    const result = await measure({ ...options, skipAggregateResult: true }, false)
    return { part: { result } satisfies Part, options }
  }))
  const { summary } = combineParts(results.map((r) => r.part), results[0]!.options)
  const errors = results.reduce((sum, r) => sum + r.part.result.errors + r.part.result.non2xx, 0)
  // Parallel runs: requests over the wall time of one run, not over the sum of their durations.
  const rps = summary.requests / (summary.requests / summary.rps / target.servers.length)
  return { rps, p50: summary.p50, p99: summary.p99, errors }
}

/** Deletes what a create run made, so that every run finds the seeded chats only (the page with `q` stays over 10,000). */
async function dropCreated (target: Target): Promise<void> {
  const amount = target.pools.created.length
  if (amount === 0) return
  const requests = scenarioRequests('delete', { dialect: 'service', pools: target.pools, filteredList: true })
  const result = await measure({ ...autocannonOptions(target.servers[0]!.url, 'drop', requests, { amount, connections: 20 }), skipAggregateResult: true }, false)
  if (result.errors + result.non2xx > 0) throw new Error(`${target.name}: ${result.errors + result.non2xx} of the deletes after the creates failed`)
}

async function throughput (redisUrl: string): Promise<string> {
  const targets: Target[] = []
  try {
    const memory = await service('memory', {})
    targets.push({ name: 'memory', servers: [memory], pools: { seedIds: [], created: [], dry: 0 } })
    const one = await service('redis ×1', { STORE: 'redis', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: 'bench-one' })
    targets.push({ name: 'redis, 1 process', servers: [one], pools: { seedIds: [], created: [], dry: 0 } })
    const env = { STORE: 'redis', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: 'bench-two', CURSOR_SECRET: 'bench' }
    const two = [await service('redis ×2 a', env), await service('redis ×2 b', env)]
    targets.push({ name: 'redis, 2 processes', servers: two, pools: { seedIds: [], created: [], dry: 0 } })
    for (const target of targets) {
      target.pools.seedIds = (await seed(target.servers[0]!.url, SEED, 50, false)).map((c) => c.id)
    }
    const scenarios = SCENARIOS
    const figures = new Map<string, { rps: number[], p50: number[], p99: number[] }>()
    for (let round = 0; round <= ROUNDS; round++) {
      for (const scenario of scenarios) {
        for (const target of targets) {
          const run = await runOn(target, scenario)
          if (run.errors > 0) throw new Error(`${target.name} ${scenario}: ${run.errors} errors or non-2xx`)
          if (scenario === 'create') await dropCreated(target)
          if (round === 0) continue // warm-up
          const key = `${target.name}|${scenario}`
          const f = figures.get(key) ?? { rps: [], p50: [], p99: [] }
          f.rps.push(run.rps); f.p50.push(run.p50); f.p99.push(run.p99)
          figures.set(key, f)
        }
      }
    }
    const lines = ['| scenario | target | req/s (median) | p50 ms | p99 ms | ratio to memory |', '|---|---|---|---|---|---|']
    for (const scenario of scenarios) {
      const base = median(figures.get(`memory|${scenario}`)!.rps)
      for (const target of targets) {
        const f = figures.get(`${target.name}|${scenario}`)!
        const rps = median(f.rps)
        const goal = target.name !== 'memory' && (scenario === 'get' || scenario === 'create') ? (rps / base >= 0.5 ? ' ✓ ≥ 0.50' : ' ✗ < 0.50') : ''
        lines.push(`| ${scenario} | ${target.name} | ${Math.round(rps).toLocaleString('en-US')} | ${median(f.p50)} | ${median(f.p99)} | ${(rps / base).toFixed(2)}${goal} |`)
      }
    }
    return `### Throughput (${ROUNDS} rounds of ${SECONDS} s after a warm-up, ${CONNECTIONS} connections, the targets in turn)\n\n${lines.join('\n')}\n\n` +
      `\`list q\` is \`GET ${LIST_Q}\` over ${SEED.toLocaleString('en-US')} chats (each create run's chats are deleted after it).\n`
  } finally {
    for (const target of targets) for (const server of target.servers) await server.stop()
  }
}

/** Writes `count` chats for `owners` owners straight through the store (pipelined), `concurrency` at a time. */
async function fill (redisUrl: string, prefix: string, owners: readonly string[], count: number): Promise<void> {
  const store = createRedisStore({ url: redisUrl, keyPrefix: prefix, maxItems: 50_000_000, commandTimeoutMs: 30_000, cursorKey: Buffer.from('bench') })
  try {
    let next = 0
    await Promise.all(Array.from({ length: 256 }, async () => {
      for (let n = next++; n < count; n = next++) await store.create(owners[n % owners.length]!, chatInput(n) as ChatInput)
    }))
  } finally {
    await store.close()
  }
}

/** p50 / p99 of the filtered page at each of LIST_CONNECTIONS, as table cells. */
async function listLatency (server: ServerProcess, key: string): Promise<string> {
  const cells: string[] = []
  for (const connections of LIST_CONNECTIONS) {
    const options = autocannonOptions(server.url, 'list', [{ method: 'GET', path: LIST_Q }], { duration: SECONDS, connections, headers: { 'x-api-key': key } })
    const result = await measure(options, false)
    if (result.errors + result.non2xx > 0) throw new Error(`list: ${result.errors} errors, ${result.non2xx} non-2xx`)
    cells.push(`${result.latency.p50} / ${result.latency.p99}`)
  }
  return cells.join(' | ')
}

async function growth (redisUrl: string, dir: string): Promise<string> {
  const prefix = 'bench-growth'
  const measured = { '1K': 1_000, '10K': 10_000, '100K': 100_000 } as const
  const { file: keysFile, keys } = apiKeysFile(dir, Object.keys(measured).map((name) => `owner-${name}`))
  for (const [name, count] of Object.entries(measured)) await fill(redisUrl, prefix, [`owner-${name}`], count)
  // The same page from a process with the list cache (the same query again, no write between) and one without it.
  const env = { STORE: 'redis', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, AUTH_MODE: 'api-key', API_KEYS_FILE: keysFile }
  const servers = [await service('redis growth', env), await service('redis growth, no cache', { ...env, REDIS_LIST_CACHE_CHATS: '0' })]
  const latency = async (key: string): Promise<string> => {
    const cells: string[] = []
    for (const server of servers) cells.push(await listLatency(server, key))
    return cells.join(' | ')
  }
  const head = ['cached', 'not cached'].flatMap((c) => LIST_CONNECTIONS.map((n) => `${c}, ${n} conn.`)).join(' | ')
  const rows = [`| the owner's chats | other owners' chats | ${head} |`, `|---|---|${'---|'.repeat(2 * LIST_CONNECTIONS.length)}`]
  try {
    for (const name of Object.keys(measured)) {
      await latency(keys.get(`owner-${name}`)!) // warm-up
      const cells = await latency(keys.get(`owner-${name}`)!)
      rows.push(`| ${name} | ${name === '1K' ? '110K (the two others)' : name === '10K' ? '101K' : '11K'} | ${cells} |`)
    }
    // The crowd: 1,000 other owners, growing; the owner of 10K measured after each step.
    const crowd = Array.from({ length: 1000 }, (_, i) => `crowd-${i}`)
    let others = 111_000 - 10_000
    for (const step of [100_000, 900_000]) {
      await fill(redisUrl, prefix, crowd, step)
      others += step
      const cells = await latency(keys.get('owner-10K')!)
      rows.push(`| 10K | ${Math.round(others / 1000)}K (with 1,000 owners more) | ${cells} |`)
    }
  } finally {
    for (const server of servers) await server.stop()
  }
  return `### The filtered page with \`q\` as an owner's chats and other owners grow (${SECONDS} s a figure)\n\n${rows.join('\n')}\n\n` +
    `\`GET ${LIST_Q}\` with the owner's API key, p50 / p99 in ms; target under 10 ms at p99 for an owner of 10K. ` +
    '"Not cached": a process with `REDIS_LIST_CACHE_CHATS=0`, the cost of every list after a write of the owner.\n'
}

/** What a primary's failover under writes loses, with and without REDIS_WAIT_REPLICAS=1 (test/support/failover.ts), BENCH_ROUNDS times each. */
async function failovers (): Promise<string> {
  const rows = ['| REDIS_WAIT_REPLICAS | round | creates acknowledged | lost | 503s meanwhile | replica promoted after |', '|---|---|---|---|---|---|']
  for (const waitReplicas of [0, 1]) {
    for (let round = 1; round <= ROUNDS; round++) {
      const o = await failover({ waitReplicas, writers: 16, beforeMs: 2000, afterMs: 1000 })
      if (o.unexpected.length > 0) throw new Error(`answers other than 201 and 503: ${o.unexpected.join(', ')}`)
      rows.push(`| ${waitReplicas} | ${round} | ${o.acknowledged.toLocaleString('en-US')} | ${o.lost} | ${o.unavailable} | ${o.promotedAfterS.toFixed(1)} s |`)
    }
  }
  return `### A primary killed under writes (16 writers, in-process service, cluster-node-timeout 2 s)\n\n${rows.join('\n')}\n`
}

async function memory (redisUrl: string): Promise<string> {
  const client = new Redis(redisUrl)
  try {
    await client.flushall()
    const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1])
    const before = await usedMemory()
    const owners = Array.from({ length: 1000 }, (_, i) => `owner-${i}`)
    const started = Date.now()
    await fill(redisUrl, 'bench-memory', owners, MEMORY_CHATS)
    const after = await usedMemory()
    const perChat = (after - before) / MEMORY_CHATS
    return `### Memory in Redis\n\n${MEMORY_CHATS.toLocaleString('en-US')} chats in 1,000 owners (the load test's bodies: titles of 30–40 characters, descriptions of 0–120): ` +
      `used_memory ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB, **${Math.round(perChat)} B a chat** with its indexes ` +
      `(written in ${((Date.now() - started) / 1000).toFixed(0)} s through the store, 256 at a time).\n`
  } finally {
    client.disconnect()
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-bench-'))
const redis = await startRedis(dir)
const sections: string[] = []
try {
  if (wants('throughput')) sections.push(await throughput(redis.url))
  if (wants('growth')) sections.push(await growth(redis.url, dir))
  if (wants('memory')) sections.push(await memory(redis.url))
  if (parts.has('failover')) sections.push(await failovers())
} finally {
  redis.child.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
process.stdout.write(sections.join('\n'))
