/**
 * Durability benchmark: `npm run bench:durability` (builds first).
 *
 * 1. Write throughput over HTTP: the built server as a child process, autocannon with 50
 *    connections creating chats, in memory, with FSYNC=everysec and with FSYNC=always, the modes
 *    alternating round by round; each durable mode is reported as a ratio to the in-memory store
 *    of the same round (median over the rounds).
 * 2. Recovery: the time for the durable store to load 1,000,000 chats, from a snapshot and from a
 *    log of creates, and for the built server to be ready on them.
 * 3. The cost of one append inside the write lock.
 * `node --import tsx load/durability-bench.ts [throughput|recovery|append]` runs one part (`recover-once <dir>`:
 * one timed recovery, as JSON; the recovery part runs each of its recoveries so, in a fresh process).
 *
 * Options (environment): BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BENCH_CHATS (1000000),
 * BENCH_TEXTS (short: `Chat number 123` and one fixed sentence; long: about 40-character titles
 * and 125-character descriptions of words drawn from a vocabulary of 5,000, as `restore-bench.ts long`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import type { ChatRecord } from '../src/store/memory/memory-store.js'
import { AppendLog } from '../src/store/durable/append-log.js'
import { createDurableStore } from '../src/store/durable/durable-store.js'
import { nodeFileOps } from '../src/store/durable/file-ops.js'
import { logName, snapshotName, writeManifest } from '../src/store/durable/manifest.js'
import { encodeEntry } from '../src/store/durable/record-codec.js'
import { encodeIndexImage } from '../src/store/durable/index-codec.js'
import { MemoryChatStore } from '../src/store/memory/memory-store.js'
import { createLog, writeSnapshot } from '../src/store/durable/snapshot.js'
import { longTexts } from './long-texts.js'
import { median } from './report.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const CHATS = Number(process.env.BENCH_CHATS ?? 1_000_000)
const TEXTS = process.env.BENCH_TEXTS ?? 'short'
const PORT = 3917
const root = new URL('..', import.meta.url).pathname

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
    NODE_ENV: 'production',
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
  const items = store.stats().items
  await store.close()
  return { ms, cpuMs: (used.user + used.system) / 1000, items }
}

/** Times a recovery in a fresh process (`recover-once <dir>`), so that no run inherits another's heap. */
async function timeRecovery (dir: string): Promise<{ ms: number, cpuMs: number, items: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'load/durability-bench.ts', 'recover-once', dir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`recover-once exited with ${String(code)}`)
  return JSON.parse(out) as { ms: number, cpuMs: number, items: number }
}

/** A data directory holding `chats` as a snapshot (with the indexes a compaction saves beside them when `index`) and an empty log. */
async function snapshotDir (chats: ChatRecord[], index: Buffer[] | undefined): Promise<{ dir: string, bytes: number }> {
  const ops = nodeFileOps
  const dir = temp()
  const bytes = await writeSnapshot(ops, dir, snapshotName(1), chats, undefined, index)
  ops.close(createLog(ops, dir, logName(2)).fd)
  writeManifest(ops, dir, { version: 1, snapshot: snapshotName(1), logs: [logName(2)], next: 3 })
  return { dir, bytes }
}

/** The index image a compaction would save for `chats`. */
async function indexImage (chats: ChatRecord[]): Promise<Buffer[]> {
  const store = new MemoryChatStore({ maxItems: chats.length, maxBytes: 0, lockTimeoutMs: 1000 })
  store.restore(new Map(chats.map((chat) => [chat.id, chat])))
  const image = await store.withAll((_all, image) => image())
  return (await encodeIndexImage(image, chats))!
}

/** Writes the data directories recovery is timed on; the chats are dropped after, so that the timed recoveries do not carry them in the heap. */
async function recoveryFiles (): Promise<{ fromSnapshot: string, bytes: number, fromPlainSnapshot: string, plainBytes: number, fromLog: string, at: number }> {
  const chats = fakeChats(CHATS)
  const ops = nodeFileOps

  const { dir: fromSnapshot, bytes } = await snapshotDir(chats, await indexImage(chats))
  const { dir: fromPlainSnapshot, bytes: plainBytes } = await snapshotDir(chats, undefined)

  const fromLog = temp()
  const log = createLog(ops, fromLog, logName(1))
  let at = log.end
  for (let i = 0; i < chats.length; i += 10_000) {
    const batch = Buffer.concat(chats.slice(i, i + 10_000).map((chat) => encodeEntry({ op: 'put', chat })))
    ops.write(log.fd, batch, at)
    at += batch.length
  }
  ops.fdatasync(log.fd)
  ops.close(log.fd)
  writeManifest(ops, fromLog, { version: 1, snapshot: null, logs: [logName(1)], next: 2 })
  return { fromSnapshot, bytes, fromPlainSnapshot, plainBytes, fromLog, at }
}

async function recovery (): Promise<void> {
  const { fromSnapshot, bytes, fromPlainSnapshot, plainBytes, fromLog, at } = await recoveryFiles()
  console.log(`\nRecovery of ${CHATS.toLocaleString('en')} chats, ${TEXTS} texts (median of 3, each in a fresh process, files in the page cache; CPU: all of the process's threads):`)
  console.log('| from | file size | time | CPU |\n|---|---|---|---|')
  const sources = [['a snapshot with its saved indexes', fromSnapshot, bytes], ['a snapshot without saved indexes (built again)', fromPlainSnapshot, plainBytes], ['a log of creates', fromLog, at]] as const
  for (const [name, dir, size] of sources) {
    const runs: number[] = []
    const cpus: number[] = []
    for (let i = 0; i < 3; i++) {
      const { ms, cpuMs, items } = await timeRecovery(dir)
      if (items !== CHATS) throw new Error(`recovered ${items} chats, not ${CHATS}`)
      runs.push(ms)
      cpus.push(cpuMs)
    }
    console.log(`| ${name} | ${(size / 1024 / 1024).toFixed(0)} MiB | ${(median(runs) / 1000).toFixed(2)} s (${runs.map(s2).join(', ')}) | ${(median(cpus) / 1000).toFixed(2)} s |`)
  }
  const starts: number[] = []
  const cpus: number[] = []
  let notReadys = 0
  for (let i = 0; i < 3; i++) {
    const { ms, cpuMs, notReady } = await serverStart(fromSnapshot)
    starts.push(ms)
    cpus.push(cpuMs)
    notReadys += notReady
  }
  const empty = await serverStart(temp())
  console.log(`| the built server, from spawn to /health/ready 200 (a snapshot with its saved indexes; ${notReadys} answers of 503 meanwhile) | ${(bytes / 1024 / 1024).toFixed(0)} MiB | ${(median(starts) / 1000).toFixed(2)} s (${starts.map(s2).join(', ')}) | ${(median(cpus) / 1000).toFixed(2)} s |`)
  console.log(`| the built server on an empty directory | | ${s2(empty.ms)} s | ${s2(empty.cpuMs)} s |`)
}

const s2 = (ms: number): string => (ms / 1000).toFixed(2)

/** The CPU a process has used so far (user and system, all threads), from /proc; 0 where there is none. */
function cpuOf (pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / 100 // utime and stime, in clock ticks of 1/100 s
  } catch {
    return 0
  }
}

/** Spawns the server on a data directory and times it until /health/ready answers 200, counting the 503s before. */
async function serverStart (dir: string): Promise<{ ms: number, cpuMs: number, notReady: number }> {
  const started = performance.now()
  const env = { ...process.env, NODE_ENV: 'production' as const, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(PORT), MAX_ITEMS: '100000000', MAX_STORE_BYTES: '0', DATA_DIR: dir }
  const child = spawn(process.execPath, ['dist/server.js'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] })
  let notReady = 0
  try {
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${PORT}/health/ready`).then((r) => r.status, () => 0)
      if (status === 200) return { ms: performance.now() - started, cpuMs: cpuOf(child.pid), notReady }
      if (status === 503) notReady++
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  } finally {
    await stopServer(child)
  }
}

/** What the append inside the write lock costs: encode, CRC-32 and write(2), with no sync. */
function appendCost (): void {
  const dir = temp()
  const { fd, end } = createLog(nodeFileOps, dir, logName(1))
  const log = new AppendLog(nodeFileOps, 'no', fd, end)
  const chat = fakeChats(1)[0]!
  const n = 200_000
  const runs: number[] = []
  for (let round = 0; round < 3; round++) {
    const started = performance.now()
    for (let i = 0; i < n; i++) log.append({ op: 'put', chat })
    runs.push((performance.now() - started) * 1000 / n)
  }
  log.close()
  console.log(`\nOne append in the write lock (encode, CRC-32, write(2)): ${median(runs).toFixed(1)} µs (median of 3 × ${n.toLocaleString('en')})`)
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
