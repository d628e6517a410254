/**
 * Change-feed benchmark: `npm run load -- feed [throughput|fanout]` (builds first).
 *
 * 1. throughput: write throughput over HTTP (the built server as a child process, autocannon with
 *    BENCH_CONNECTIONS connections) with the feed and history on (HISTORY_VERSIONS=10, the
 *    defaults) against off, rounds alternating: POST /chats, then PATCH of seeded chats (where the
 *    history keeps versions). "Off" is BENCH_BASELINE when given (another build's server script,
 *    e.g. a build of the branch before the feed: the whole cost), else this build with
 *    HISTORY_VERSIONS=0 and CHANGES_RETAIN=1 (the cost of what is kept; every write still
 *    records its change). Target: on ÷ off at least 0.90.
 * 2. fanout: BENCH_STREAMS (1,000) open event streams on GET /changes while BENCH_RATE (1,000)
 *    creates a second go in for BENCH_SECONDS; for each create, the time from its answer to its
 *    event at each of BENCH_SAMPLED (50) of the streams (every stream reads all), and from its send
 *    (an event often arrives before its answer). Target: p99 under 50 ms. BENCH_OWNERS (1): the
 *    streams and the creates are spread over that many owners (API keys), stream i and create n of
 *    owner i mod N and n mod N: with 1, every create goes to every stream (a million events a second);
 *    with 250, to its owner's 4 (an owner's devices).
 *
 * Options (environment): BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BENCH_SEED
 * (1,000 chats to patch), BENCH_BASELINE, BENCH_STREAMS, BENCH_RATE, BENCH_SAMPLED, BENCH_OWNERS.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { request as httpRequest, Agent } from 'node:http'
import autocannon from 'autocannon'
import { apiKeysFile } from './auth.js'
import { deployedEnv, freePort } from './processes.js'
import { median } from './report.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const SEED = Number(process.env.BENCH_SEED ?? 1000)
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000)
const RATE = Number(process.env.BENCH_RATE ?? 1000)
const SAMPLED = Math.min(STREAMS, Number(process.env.BENCH_SAMPLED ?? 50))
const OWNERS = Math.max(1, Number(process.env.BENCH_OWNERS ?? 1))
const BASELINE = process.env.BENCH_BASELINE
const root = new URL('..', import.meta.url).pathname

interface Server { child: ChildProcess, base: string }

async function startServer (env: Record<string, string>, script = 'dist/server.js'): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, [script], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      ...deployedEnv(),
      AUTH_MODE: 'none',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      MAX_ITEMS: '100000000',
      MAX_STORE_BYTES: '0',
      RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1,::ffff:127.0.0.1',
      RATE_LIMIT_READ_MAX: '1000000000',
      RATE_LIMIT_WRITE_MAX: '1000000000',
      PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env
    }
  })
  const base = `http://127.0.0.1:${port}`
  for (;;) {
    if (await fetch(`${base}/health/ready`).then((r) => r.ok, () => false)) return { child, base }
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function stopServer ({ child }: Server): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

const BODY = JSON.stringify({ title: 'Benchmark chat', description: 'A chat made by the feed benchmark.', priority: 'high' })

async function seed (base: string, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/chats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })
    ids.push(((await res.json()) as { id: string }).id)
  }
  return ids
}

async function load (base: string, kind: 'create' | 'patch', ids: string[], seconds: number): Promise<number> {
  let n = 0
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [kind === 'create'
      ? { method: 'POST', path: '/chats', headers: { 'content-type': 'application/json' }, body: BODY }
      : {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, path: `/chats/${ids[n++ % ids.length]!}`, body: JSON.stringify({ title: `Renamed ${n}` }) })
        }]
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${kind}: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
  return result.requests.average
}

async function throughput (): Promise<void> {
  type Side = 'on' | 'off'
  const rps: Record<Side, Record<'create' | 'patch', number[]>> = { on: { create: [], patch: [] }, off: { create: [], patch: [] } }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const side of (round % 2 === 1 ? ['on', 'off'] : ['off', 'on']) as Side[]) {
      const server = side === 'on' || BASELINE !== undefined
        ? await startServer(side === 'on' ? { HISTORY_VERSIONS: '10' } : {}, side === 'on' ? undefined : BASELINE)
        : await startServer({ HISTORY_VERSIONS: '0', CHANGES_RETAIN: '1' })
      try {
        const ids = await seed(server.base, SEED)
        await load(server.base, 'create', ids, 1)
        for (const kind of ['create', 'patch'] as const) rps[side][kind].push(await load(server.base, kind, ids, SECONDS))
      } finally {
        await stopServer(server)
      }
    }
    console.log(`round ${round}: create on ${rps.on.create.at(-1)!.toFixed(0)} / off ${rps.off.create.at(-1)!.toFixed(0)} req/s, patch on ${rps.on.patch.at(-1)!.toFixed(0)} / off ${rps.off.patch.at(-1)!.toFixed(0)}`)
  }
  console.log(`\nWrites with the feed and history on (HISTORY_VERSIONS=10) against off (${BASELINE === undefined ? 'HISTORY_VERSIONS=0, CHANGES_RETAIN=1' : BASELINE}), ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s (median; target ≥ 0.90):`)
  console.log('| write | on req/s | off req/s | on ÷ off |\n|---|---|---|---|')
  for (const kind of ['create', 'patch'] as const) {
    const ratios = rps.on[kind].map((on, i) => on / rps.off[kind][i]!)
    console.log(`| ${kind} | ${median(rps.on[kind]).toFixed(0)} | ${median(rps.off[kind]).toFixed(0)} | ${median(ratios).toFixed(2)} |`)
  }
}

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

async function fanout (): Promise<void> {
  // More than one owner: an API key each, in a keys file of their hashes.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'feed-bench-'))
  const { file, keys } = apiKeysFile(dir, Array.from({ length: OWNERS }, (_, i) => `owner-${i}`))
  const auth = (n: number): Record<string, string> => OWNERS === 1 ? {} : { 'x-api-key': keys.get(`owner-${n % OWNERS}`)! }
  const server = await startServer({ CHANGES_MAX_STREAMS: String(STREAMS + 10), ...(OWNERS === 1 ? {} : { AUTH_MODE: 'api-key', API_KEYS_FILE: file }) })
  const agent = new Agent({ keepAlive: true, maxSockets: STREAMS + 1 })
  /** When each create was sent and answered: events come before their answers, so the time from the send bounds the delay from above. */
  const timed = new Map<string, { sent: number, answered: number }>()
  /** When each create's event reached each sampled stream: an event may come before its answer (answers leave at the end of the server's turn). */
  const arrivals = new Map<string, number[]>()
  let cut = 0
  let closing = false
  const CREATED = /event: created\ndata: \{"seq":"[^"]*","type":"created","id":"([^"]+)"/g
  try {
    const streams = await Promise.all(Array.from({ length: STREAMS }, async (_, i) => await new Promise<() => void>((resolve, reject) => {
      const req = httpRequest(`${server.base}/changes`, { agent, headers: { accept: 'text/event-stream', ...auth(i) } }, (res) => {
        if (res.statusCode !== 200) { reject(new Error(`stream ${i}: ${res.statusCode}`)); return }
        res.setEncoding('utf8')
        let rest = ''
        res.on('data', (chunk: string) => {
          if (i >= SAMPLED) return
          const now = performance.now()
          const text = rest + chunk
          const cutAt = text.lastIndexOf('\n\n')
          rest = text.slice(cutAt + 2)
          for (const m of text.slice(0, cutAt + 2).matchAll(CREATED)) {
            let list = arrivals.get(m[1]!)
            if (list === undefined) arrivals.set(m[1]!, list = [])
            list.push(now)
          }
        })
        res.on('close', () => { if (!closing) cut++ })
        resolve(() => { req.destroy() })
      })
      req.on('error', reject)
      req.end()
    })))
    console.log(`${STREAMS} streams of ${OWNERS} owner(s) open; ${RATE} creates a second for ${SECONDS} s`)
    /** Successful creates by owner: a sampled stream gets its owner's only. */
    const created = new Array<number>(OWNERS).fill(0)
    const writer = new Agent({ keepAlive: true, maxSockets: 64 })
    const end = performance.now() + SECONDS * 1000
    const tick = 10
    let sent = 0
    let failed = 0
    const inFlight: Promise<void>[] = []
    for (let next = performance.now(); next < end; next += tick) {
      const due = Math.round(((next + tick - (end - SECONDS * 1000)) / 1000) * RATE) - sent
      for (let k = 0; k < due; k++) {
        const owner = sent++ % OWNERS
        const sending = performance.now()
        inFlight.push(new Promise<void>((resolve) => {
          const req = httpRequest(`${server.base}/chats`, { method: 'POST', agent: writer, headers: { 'content-type': 'application/json', ...auth(owner) } }, (res) => {
            let body = ''
            res.setEncoding('utf8')
            res.on('data', (c: string) => { body += c })
            res.on('end', () => {
              if (res.statusCode === 201) {
                timed.set((JSON.parse(body) as { id: string }).id, { sent: sending, answered: performance.now() })
                created[owner]!++
              } else failed++
              resolve()
            })
          })
          req.on('error', () => { failed++; resolve() })
          req.end(BODY)
        }))
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next + tick - performance.now())))
    }
    await Promise.all(inFlight)
    await new Promise((resolve) => setTimeout(resolve, 500))
    closing = true
    for (const close of streams) close()
    const latencies: number[] = []
    const fromSend: number[] = []
    let early = 0
    for (const [id, { sent: sentAt, answered }] of timed) {
      for (const at of arrivals.get(id) ?? []) {
        if (at < answered) early++
        latencies.push(Math.max(0, at - answered))
        fromSend.push(at - sentAt)
      }
    }
    latencies.sort((a, b) => a - b)
    fromSend.sort((a, b) => a - b)
    const seconds = SECONDS
    console.log(`\nFan-out: ${STREAMS} streams of ${OWNERS} owner(s), ${(sent / seconds).toFixed(0)} creates/s sent (${failed} failed), ${SAMPLED} streams timed; streams cut before the end: ${cut}`)
    console.log('| events timed | p50 ms | p99 ms | max ms | events before their answer (counted as 0) | from the send: p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|')
    console.log(`| ${latencies.length} | ${percentile(latencies, 0.5).toFixed(1)} | ${percentile(latencies, 0.99).toFixed(1)} | ${(latencies.at(-1) ?? NaN).toFixed(1)} | ${early} | ${percentile(fromSend, 0.5).toFixed(1)} | ${percentile(fromSend, 0.99).toFixed(1)} | ${(fromSend.at(-1) ?? NaN).toFixed(1)} |`)
    let expected = 0
    for (let i = 0; i < SAMPLED; i++) expected += created[i % OWNERS]!
    if (latencies.length < expected) console.log(`(${expected - latencies.length} of ${expected} sampled events did not arrive)`)
    writer.destroy()
  } finally {
    agent.destroy()
    await stopServer(server)
    rmSync(dir, { recursive: true, force: true })
  }
}

const part = process.argv[2]
if (part === undefined || part === 'throughput') await throughput()
if (part === undefined || part === 'fanout') await fanout()
