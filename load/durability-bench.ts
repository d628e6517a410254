/**
 * Durability benchmark: `npm run load -- durability [part]`, or `npm run bench:durability` (both build first).
 *
 * 1. Write throughput over HTTP: the built server as a child process, autocannon with 50
 *    connections creating chats, in memory, with FSYNC=everysec and with FSYNC=always, the modes
 *    alternating round by round; each durable mode is reported as a ratio to the in-memory store
 *    of the same round (median over the rounds).
 * 2. Recovery: the time for the durable store to load 1,000,000 chats, from a snapshot (alone, or
 *    with the longest log the default compaction thresholds leave after it) and from a log of
 *    creates, and for the built server to be ready on them.
 * 3. The cost of logging one change: the append inside the write lock and its share of a write(2).
 * A part named (`throughput`, `recovery`, `append`) runs alone (`recover-once <dir>`: one timed
 * recovery, as JSON; the recovery part runs each of its recoveries so, in a fresh process).
 *
 * Options (environment): BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BENCH_CHATS (1000000),
 * BENCH_TEXTS (short: `Chat number 123` and one fixed sentence; long: about 40-character titles
 * and 125-character descriptions of words drawn from a vocabulary of 5,000, as `restore-bench.ts long`),
 * BENCH_SOURCES (the recovery part: which of its rows to time, by number, e.g. `2,3`; default all),
 * BENCH_BASELINE (the recovery part: another build's server script, timed alternately with this one's).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import type { ChatRecord } from '../src/store/records.js'
import { AppendLog } from '../src/store/durable/append-log.js'
import { createDurableStore } from '../src/store/durable/durable-store.js'
import { nodeFileOps } from '../src/store/durable/file-ops.js'
import { logName, snapshotName, writeManifest } from '../src/store/durable/manifest.js'
import { encodeEntry, HEADER_BYTES } from '../src/store/durable/record-codec.js'
import { encodeIndexImage } from '../src/store/durable/index-codec.js'
import { MemoryChatStore } from '../src/store/memory/memory-store.js'
import { createLog, writeSnapshot } from '../src/store/durable/snapshot.js'
import { longTexts } from './long-texts.js'
import { cpuSecondsOf, deployedEnv } from './processes.js'
import { median } from './report.js'
import { loadConfig } from '../src/config.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const CHATS = Number(process.env.BENCH_CHATS ?? 1_000_000)
const TEXTS = process.env.BENCH_TEXTS ?? 'short'
const PORT = 3917
const root = new URL('..', import.meta.url).pathname
/** The compaction thresholds a server started without settings uses. */
const DEFAULTS = loadConfig({})
/** Lower thresholds, for the restart they bound (at the price of more compactions). */
const LOWER_GROWTH_PERCENT = 20
const LOWER_MIN_BYTES = 16 * 2 ** 20
/** BENCH_BASELINE: another build's server script (e.g. an older dist/server.js copied beside this one) timed alternately with this one's. */
const BASELINE = process.env.BENCH_BASELINE

type Mode = 'memory' | 'everysec' | 'always'
const MODES: Mode[] = ['memory', 'everysec', 'always']

const temps: string[] = []
function temp (): string {
  const dir = mkdtempSync(join(tmpdir(), 'durability-bench-'))
  temps.push(dir)
  return dir
}

async function startServer (mode: Mode): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...deployedEnv(),
    AUTH_MODE: 'none',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(PORT),
    MAX_ITEMS: '100000000',
    MAX_STORE_BYTES: '0',
    RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1',
    DATA_DIR: mode === 'memory' ? '' : temp(),
    FSYNC: mode === 'memory' ? 'everysec' : mode
  }
  const child = spawn(process.execPath, ['dist/server.js'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] })
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${PORT}/health/ready`).then((r) => r.ok, () => false)
    if (ok) return child
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function stopServer (child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function writeLoad (seconds: number): Promise<{ rps: number, non2xx: number, errors: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${PORT}/chats`,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Benchmark chat', description: 'A chat made by the durability benchmark.', priority: 'high' })
  })
  return { rps: result.requests.average, non2xx: result.non2xx, errors: result.errors }
}

async function throughput (): Promise<void> {
  const rps: Record<Mode, number[]> = { memory: [], everysec: [], always: [] }
  const ratios: Record<'everysec' | 'always', number[]> = { everysec: [], always: [] }
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate the order too, so that no mode always runs first or last in a round.
    const order = round % 2 === 1 ? MODES : [...MODES].reverse()
    const got: Partial<Record<Mode, number>> = {}
    for (const mode of order) {
      const child = await startServer(mode)
      try {
        await writeLoad(1) // warm-up
        const r = await writeLoad(SECONDS)
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${mode}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
        got[mode] = r.rps
        rps[mode].push(r.rps)
      } finally {
        await stopServer(child)
      }
    }
    ratios.everysec.push(got.everysec! / got.memory!)
    ratios.always.push(got.always! / got.memory!)
    console.log(`round ${round}: memory ${got.memory!.toFixed(0)} req/s, everysec ${got.everysec!.toFixed(0)} (${ratios.everysec.at(-1)!.toFixed(2)}), always ${got.always!.toFixed(0)} (${ratios.always.at(-1)!.toFixed(2)})`)
  }
  console.log(`\nPOST /chats, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s (median):`)
  console.log('| store | req/s | ratio to memory |\n|---|---|---|')
  console.log(`| memory | ${median(rps.memory).toFixed(0)} | 1.00 |`)
  console.log(`| FSYNC=everysec | ${median(rps.everysec).toFixed(0)} | ${median(ratios.everysec).toFixed(2)} |`)
  console.log(`| FSYNC=always | ${median(rps.always).toFixed(0)} | ${median(ratios.always).toFixed(2)} |`)
}

const long = longTexts()

function texts (i: number): { title: string, description: string } {
  if (TEXTS !== 'long') return { title: `Chat number ${i}`, description: 'Some notes about this chat, a sentence or two long, as chats usually have.' }
  return long(i)
}

function fakeChats (n: number): ChatRecord[] {
  const start = Date.UTC(2026, 0, 1)
  const chats: ChatRecord[] = new Array<ChatRecord>(n)
  for (let i = 0; i < n; i++) {
    const hex = i.toString(16).padStart(12, '0')
    chats[i] = {
      owner: 'default',
      id: `01a20000-0000-7000-8000-${hex}`,
      ...texts(i),
      priority: (['low', 'medium', 'high'] as const)[i % 3]!,
      isActive: i % 2 === 0,
      createdAt: start + i,
      updatedAt: start + i,
      version: 1
    }
  }
  return chats
}

/** Recovers `dir` in this process, answering the wall and CPU (all threads, GC included) milliseconds it took. */
async function recoverHere (dir: string): Promise<{ ms: number, cpuMs: number, items: number }> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const store = createDurableStore({ maxItems: 100_000_000, maxBytes: 0, lockTimeoutMs: 1000, dataDir: dir, fsync: 'everysec', compactMinBytes: 1 << 30, compactGrowthPercent: 100 })
  await store.recovered
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  const { items } = await store.health()
  await store.close()
  return { ms, cpuMs: (used.user + used.system) / 1000, items }
}

/** Times a recovery in a fresh process (`recover-once <dir>`, with the servers' environment), so that no run inherits another's heap. */
async function timeRecovery (dir: string): Promise<{ ms: number, cpuMs: number, items: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'load/durability-bench.ts', 'recover-once', dir], { cwd: root, env: { ...process.env, ...deployedEnv() }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`recover-once exited with ${String(code)}`)
  return JSON.parse(out) as { ms: number, cpuMs: number, items: number }
}

/**
 * A data directory holding `chats` as a snapshot (with the indexes a compaction saves beside them
 * when `index`) and a log holding `tail(snapshot's size)` (empty when no tail).
 */
async function snapshotDir (chats: ChatRecord[], index: Buffer[] | undefined, tail: (bytes: number) => ChatRecord[] = () => []): Promise<{ dir: string, bytes: number, logBytes: number, logged: number }> {
  const ops = nodeFileOps
  const dir = temp()
  const bytes = await writeSnapshot(ops, dir, snapshotName(1), chats, undefined, index)
  const logged = tail(bytes)
  const logBytes = writeLog(dir, logName(2), logged)
  writeManifest(ops, dir, { version: 1, snapshot: snapshotName(1), logs: [logName(2)], next: 3 })
  return { dir, bytes, logBytes, logged: logged.length }
}

/** Writes a log of puts of `chats` in `dir`, answering its size. */
function writeLog (dir: string, name: string, chats: readonly ChatRecord[]): number {
  const ops = nodeFileOps
  const log = createLog(ops, dir, name)
  let at = log.end
  for (let i = 0; i < chats.length; i += 10_000) {
    const batch = Buffer.concat(chats.slice(i, i + 10_000).map((chat) => encodeEntry({ op: 'put', chat })))
    ops.write(log.fd, batch, at)
    at += batch.length
  }
  ops.fdatasync(log.fd)
  ops.close(log.fd)
  return at
}

/** The log size at which the default settings compact after a snapshot of `bytes` (COMPACT_MIN_BYTES, COMPACT_GROWTH_PERCENT). */
function threshold (bytes: number, growthPercent = DEFAULTS.COMPACT_GROWTH_PERCENT, minBytes = DEFAULTS.COMPACT_MIN_BYTES): number {
  return Math.max(minBytes, bytes * growthPercent / 100)
}

/** The first `chats` that fit in a log of less than `bytes`: the longest log a compaction threshold of `bytes` leaves behind. */
function fitting (chats: Iterable<ChatRecord>, bytes: number): ChatRecord[] {
  const out: ChatRecord[] = []
  let at = HEADER_BYTES
  for (const chat of chats) {
    at += encodeEntry({ op: 'put', chat }).length
    if (at >= bytes) break
    out.push(chat)
  }
  return out
}

/** Updates of `chats` (each a new title and description, a later updatedAt), one chat after another and round again. */
function * updates (chats: readonly ChatRecord[]): Generator<ChatRecord> {
  for (let i = 0; ; i++) {
    const before = chats[i % chats.length]!
    const round = Math.floor(i / chats.length) + 1
    yield { ...before, ...texts(chats.length + i), updatedAt: before.updatedAt + round * 1e9, version: before.version + round }
  }
}

/** The index image a compaction would save for `chats`. */
async function indexImage (chats: ChatRecord[]): Promise<Buffer[]> {
  const store = new MemoryChatStore({ maxItems: chats.length, maxBytes: 0, lockTimeoutMs: 1000 })
  store.restore(chats)
  const image = await store.withAll((_all, image) => image())
  return (await encodeIndexImage(image, chats))!
}

interface Source { name: string, dir: string, bytes: number, chats: number, server: boolean }

/**
 * Writes the data directories recovery is timed on; the chats are dropped after, so that the
 * timed recoveries do not carry them in the heap. Those with a log after the snapshot are the
 * slowest restarts a compaction threshold allows: a log just under it, of creates (the store grew
 * to about CHATS since its snapshot) or of updates (a snapshot of CHATS).
 */
async function recoveryFiles (): Promise<Source[]> {
  const chats = fakeChats(CHATS)
  const index = await indexImage(chats)
  const withIndex = await snapshotDir(chats, index)
  const plain = await snapshotDir(chats, undefined)
  // The snapshot of a store that grows to CHATS by the time its log reaches the threshold.
  const share = 1 / (1 + DEFAULTS.COMPACT_GROWTH_PERCENT / 100 * withIndex.bytes / plain.bytes)
  const early = chats.slice(0, Math.round(CHATS * share))
  const grown = await snapshotDir(early, await indexImage(early), (bytes) => fitting(chats.slice(early.length), threshold(bytes)))
  const changed = await snapshotDir(chats, index, (bytes) => fitting(updates(chats), threshold(bytes)))
  const lower = await snapshotDir(chats, index, (bytes) => fitting(updates(chats), threshold(bytes, LOWER_GROWTH_PERCENT, LOWER_MIN_BYTES)))
  const fromLog = temp()
  const logBytes = writeLog(fromLog, logName(1), chats)
  writeManifest(nodeFileOps, fromLog, { version: 1, snapshot: null, logs: [logName(1)], next: 2 })
  const k = (n: number): string => `${Math.round(n / 1000).toLocaleString('en')}k`
  const defaults = `COMPACT_GROWTH_PERCENT=${DEFAULTS.COMPACT_GROWTH_PERCENT}, the default`
  return [
    { name: 'a snapshot with its saved indexes', dir: withIndex.dir, bytes: withIndex.bytes, chats: CHATS, server: true },
    { name: `a snapshot of ${k(early.length)} with its saved indexes + a log of ${k(grown.logged)} creates, just under the compaction threshold (${defaults})`, dir: grown.dir, bytes: grown.bytes + grown.logBytes, chats: early.length + grown.logged, server: true },
    { name: `a snapshot with its saved indexes + a log of ${k(changed.logged)} updates, just under the compaction threshold (${defaults})`, dir: changed.dir, bytes: changed.bytes + changed.logBytes, chats: CHATS, server: true },
    { name: `a snapshot with its saved indexes + a log of ${k(lower.logged)} updates, just under the compaction threshold of COMPACT_GROWTH_PERCENT=${LOWER_GROWTH_PERCENT} with COMPACT_MIN_BYTES=${LOWER_MIN_BYTES} (lower settings)`, dir: lower.dir, bytes: lower.bytes + lower.logBytes, chats: CHATS, server: true },
    { name: 'a snapshot without saved indexes (version 1, or repair\'s): indexes built', dir: plain.dir, bytes: plain.bytes, chats: CHATS, server: false },
    { name: `a log of ${k(CHATS)} creates: indexes built`, dir: fromLog, bytes: logBytes, chats: CHATS, server: false }
  ]
}

async function recovery (): Promise<void> {
  const sources = await recoveryFiles()
  const only = process.env.BENCH_SOURCES?.split(',').map(Number)
  console.log(`\nRecovery of ${CHATS.toLocaleString('en')} chats, ${TEXTS} texts (median of 3, each in a fresh process, files in the page cache; CPU: all of the process's threads):`)
  console.log(`| from | files | in process: time | CPU | the built server, spawn to /health/ready 200 | CPU |${BASELINE === undefined ? '' : ` ${BASELINE}, alternated |`}\n|---|---|---|---|---|---|${BASELINE === undefined ? '' : '---|'}`)
  for (const [i, { name, dir, bytes, chats, server }] of sources.entries()) {
    if (only !== undefined && !only.includes(i + 1)) continue
    const runs: number[] = []
    const cpus: number[] = []
    for (let r = 0; r < 3; r++) {
      const { ms, cpuMs, items } = await timeRecovery(dir)
      if (items !== chats) throw new Error(`${name}: recovered ${items} chats, not ${chats}`)
      runs.push(ms)
      cpus.push(cpuMs)
    }
    let served = '| |'
    let compared = ''
    if (server) {
      const starts: number[] = []
      const serverCpus: number[] = []
      const baseline: number[] = []
      let notReadys = 0
      for (let r = 0; r < 3; r++) {
        // With a baseline build, the two alternate, so that both meet the same load.
        if (BASELINE !== undefined) baseline.push((await serverStart(dir, BASELINE)).ms)
        const { ms, cpuMs, notReady } = await serverStart(dir)
        starts.push(ms)
        serverCpus.push(cpuMs)
        notReadys += notReady
      }
      served = `${s2(median(starts))} s (${starts.map(s2).join(', ')}; ${notReadys} answers of 503 meanwhile) | ${s2(median(serverCpus))} s |`
      if (BASELINE !== undefined) compared = ` ${s2(median(baseline))} s (${baseline.map(s2).join(', ')}) |`
    }
    console.log(`| ${name} | ${(bytes / 1024 / 1024).toFixed(0)} MiB | ${s2(median(runs))} s (${runs.map(s2).join(', ')}) | ${s2(median(cpus))} s | ${served}${compared}`)
  }
  const empty = await serverStart(temp())
  console.log(`| the built server on an empty directory | | | | ${s2(empty.ms)} s | ${s2(empty.cpuMs)} s |`)
}

const s2 = (ms: number): string => (ms / 1000).toFixed(2)

/** The CPU a process has used so far (user and system, all threads), from /proc; 0 where there is none. */

/** Spawns the server on a data directory and times it until /health/ready answers 200, counting the 503s before. */
async function serverStart (dir: string, server = 'dist/server.js'): Promise<{ ms: number, cpuMs: number, notReady: number }> {
  const started = performance.now()
  const env = { ...process.env, ...deployedEnv(), AUTH_MODE: 'none', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(PORT), MAX_ITEMS: '100000000', MAX_STORE_BYTES: '0', DATA_DIR: dir }
  const child = spawn(process.execPath, [server], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] })
  let notReady = 0
  try {
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${PORT}/health/ready`).then((r) => r.status, () => 0)
      if (status === 200) return { ms: performance.now() - started, cpuMs: child.pid === undefined ? 0 : (cpuSecondsOf(child.pid) ?? 0) * 1000, notReady }
      if (status === 503) notReady++
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  } finally {
    await stopServer(child)
  }
}

/**
 * What logging a change costs: the append inside the write lock (encode and CRC-32), and the
 * write(2) at the end of the event-loop turn, for a turn of 1 change and a turn of 16.
 */
function appendCost (): void {
  const dir = temp()
  const { fd, end } = createLog(nodeFileOps, dir, logName(1))
  const log = new AppendLog(nodeFileOps, 'no', fd, end)
  const chat = fakeChats(1)[0]!
  const n = 192_000
  const runs = { append: [] as number[], 1: [] as number[], 16: [] as number[] }
  for (let round = 0; round < 3; round++) {
    let started = performance.now()
    for (let i = 0; i < n; i++) log.append({ op: 'put', chat }, undefined)
    runs.append.push((performance.now() - started) * 1000 / n)
    log.writePending()
    for (const turn of [1, 16] as const) {
      started = performance.now()
      for (let i = 0; i < n; i++) {
        log.append({ op: 'put', chat }, undefined)
        if ((i + 1) % turn === 0) log.writePending()
      }
      runs[turn].push((performance.now() - started) * 1000 / n)
    }
  }
  log.close()
  console.log(`\nLogging one change (median of 3 × ${n.toLocaleString('en')}): append in the write lock (encode, CRC-32) ${median(runs.append).toFixed(1)} µs; ` +
    `with its write(2), one change a turn ${median(runs[1]).toFixed(1)} µs, 16 a turn ${median(runs[16]).toFixed(1)} µs`)
}

try {
  const only = process.argv[2]
  if (only === 'recover-once') process.stdout.write(JSON.stringify(await recoverHere(process.argv[3]!)))
  if (only === undefined || only === 'throughput') await throughput()
  if (only === undefined || only === 'recovery') await recovery()
  if (only === undefined || only === 'append') appendCost()
} finally {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
}
