import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, watch } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Chat, ChatInput, ChatPatch } from '../src/store/types.js'
import { FSYNC_MODES, type FsyncMode } from '../src/store/durable/append-log.js'
import { freePort } from '../load/processes.js'
import { removeTempDirs, tempDir } from './store/durable/helpers.js'

/**
 * Crash test over real HTTP: the built service (`npm run build`, done first) runs as a child
 * process with DATA_DIR; 16 concurrent clients create, patch, replace and delete; the child is
 * killed with SIGKILL at a random moment, restarted on the same directory, and every acknowledged
 * write must be there at its version, every acknowledged delete gone. The rounds take turns:
 * compaction off (the log keeps its preallocated zeros from one kill to the next, so appends after
 * a recovery must go right after its last record), tiny thresholds with the kill as a compaction
 * starts, and tiny thresholds with the kill at any moment.
 * `CRASH_ROUNDS` (20 by default; `npm run test:crash` runs 50) sets the kills per FSYNC mode.
 */
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 20)
const CLIENTS = 16
const root = new URL('..', import.meta.url).pathname

// The built service starts with half the CPU of tsx, and this file starts it many times.
beforeAll(() => { execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root }) }, 120_000)
afterAll(removeTempDirs)

/** What a client knows of one of its chats. */
interface Known {
  /** The last acknowledged state, or 'deleted'. */
  acked: Chat | 'deleted'
  /** A write sent without an answer (the kill came first): it may or may not have happened. */
  pending?: { op: 'patch', patch: ChatPatch } | { op: 'replace', input: Required<ChatInput> } | { op: 'delete' }
}

type Compaction = 'off' | 'kill as it starts' | 'tiny'
const compactionOf = (round: number): Compaction => (['off', 'kill as it starts', 'tiny'] as const)[round % 3]!

function startService (dir: string, port: number, fsync: FsyncMode, compaction: Compaction): { child: ChildProcess, stderr: () => string } {
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      // Production refuses to start without it; the crash test is about the store, not access.
      AUTH_MODE: 'none',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dir,
      FSYNC: fsync,
      COMPACT_MIN_BYTES: compaction === 'off' ? String(1 << 30) : '8192',
      COMPACT_GROWTH_PERCENT: '25',
      RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1',
      LOCK_TIMEOUT_MS: '10000'
    }
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  return { child, stderr: () => stderr }
}

/** Waits for /health/ready; fails with what the service wrote to stderr when it exits or stays unready. */
async function waitReady (base: string, service: { child: ChildProcess, stderr: () => string }): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    if (service.child.exitCode !== null) throw new Error(`the service exited with ${service.child.exitCode} before it was ready:\n${service.stderr()}`)
    if (Date.now() > deadline) throw new Error(`the service was not ready after 60 s:\n${service.stderr()}`)
    const ok = await fetch(`${base}/health/ready`).then((r) => r.status === 200, () => false)
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

async function listAll (base: string): Promise<Map<string, Chat>> {
  const all = new Map<string, Chat>()
  for (let offset = 0; ; offset += 100) {
    const res = await fetch(`${base}/chats?limit=100&offset=${offset}`)
    expect(res.status).toBe(200)
    const page = await res.json() as { items: Chat[] }
    for (const chat of page.items) all.set(chat.id, chat)
    if (page.items.length < 100) return all
  }
}

const random = (n: number): number => Math.floor(Math.random() * n)
const PRIORITIES = ['low', 'medium', 'high'] as const

const send = async (base: string, method: string, path: string, body?: unknown): Promise<Response | undefined> =>
  await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).catch(() => undefined)

/** One client: makes its own chats and changes only those, one request at a time, until `stop`. */
async function client (base: string, name: string, known: Map<string, Known>, creating: Set<string>, stop: { now: boolean }): Promise<void> {
  let n = 0
  while (!stop.now) {
    const mine = [...known.entries()].filter(([, k]) => k.acked !== 'deleted' && k.pending === undefined && k.acked.title.startsWith(`${name}-`))
    const roll = Math.random()
    if (mine.length < 4 || roll < 0.4) {
      const title = `${name}-${n++}`
      creating.add(title)
      const res = await send(base, 'POST', '/chats', { title, priority: PRIORITIES[random(3)] })
      if (res?.status !== 201) continue
      const chat = await res.json().catch(() => undefined) as Chat | undefined
      if (chat === undefined) continue
      creating.delete(title)
      known.set(chat.id, { acked: chat })
      continue
    }
    const [id, k] = mine[random(mine.length)]!
    if (roll < 0.65) {
      const patch: ChatPatch = random(2) === 0 ? { description: `d${n++}`, isActive: random(2) === 0 } : { title: `${name}-${n++}`, priority: PRIORITIES[random(3)]! }
      k.pending = { op: 'patch', patch }
      const res = await send(base, 'PATCH', `/chats/${id}`, patch)
      const chat = res?.status === 200 ? await res.json().catch(() => undefined) as Chat | undefined : undefined
      if (chat !== undefined) known.set(id, { acked: chat })
    } else if (roll < 0.85) {
      const input = { title: `${name}-${n++}`, description: `r${n}`, priority: PRIORITIES[random(3)]!, isActive: random(2) === 0 }
      k.pending = { op: 'replace', input }
      const res = await send(base, 'PUT', `/chats/${id}`, input)
      const chat = res?.status === 200 ? await res.json().catch(() => undefined) as Chat | undefined : undefined
      if (chat !== undefined) known.set(id, { acked: chat })
    } else {
      k.pending = { op: 'delete' }
      const res = await send(base, 'DELETE', `/chats/${id}`)
      if (res?.status === 204) known.set(id, { acked: 'deleted' })
    }
  }
}

/** Checks the restarted service against what was acknowledged, and settles the writes left in doubt. */
function verify (found: Map<string, Chat>, known: Map<string, Known>, creating: Set<string>): void {
  for (const [id, k] of known) {
    const now = found.get(id)
    if (k.acked === 'deleted') {
      expect(now, `acknowledged delete of ${id}`).toBeUndefined()
      continue
    }
    const acked = k.acked
    if (k.pending === undefined) {
      expect(now, `acknowledged state of ${id}`).toEqual(acked)
    } else if (k.pending.op === 'delete') {
      if (now !== undefined) expect(now).toEqual(acked)
      known.set(id, { acked: now ?? 'deleted' })
      continue
    } else {
      expect(now, `chat ${id} with a ${k.pending.op} in doubt`).toBeDefined()
      if (now!.version !== acked.version) {
        const { updatedAt, ...rest } = now!
        const change = k.pending.op === 'patch' ? k.pending.patch : k.pending.input
        expect(rest).toEqual({ ...withoutUpdatedAt(acked), ...change, version: acked.version + 1 })
        expect(Date.parse(updatedAt)).toBeGreaterThan(Date.parse(acked.updatedAt))
      } else {
        expect(now).toEqual(acked)
      }
      known.set(id, { acked: now! })
    }
    delete k.pending
  }
  // Chats nobody was told about: only creates left in doubt may have made them.
  for (const [id, chat] of found) {
    if (known.has(id)) continue
    expect(creating.has(chat.title), `unexpected chat ${chat.title}`).toBe(true)
    known.set(id, { acked: chat })
  }
  creating.clear()
}

function withoutUpdatedAt (chat: Chat): Omit<Chat, 'updatedAt'> {
  const rest: Partial<Chat> = { ...chat }
  delete rest.updatedAt
  return rest as Omit<Chat, 'updatedAt'>
}

/** True when the directory shows a compaction cut short: two logs named, or files no manifest names. */
function midCompaction (dir: string): boolean {
  const manifest = JSON.parse(readFileSync(join(dir, 'MANIFEST'), 'utf8')) as { snapshot: string | null, logs: string[] }
  const named = new Set(['MANIFEST', manifest.snapshot, ...manifest.logs])
  return manifest.logs.length > 1 || readdirSync(dir).some((f) => !named.has(f))
}

async function crashRounds (fsync: FsyncMode): Promise<{ rounds: number, midCompaction: number, acknowledged: number }> {
  const dir = tempDir()
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const known = new Map<string, Known>()
  const creating = new Set<string>()
  let mid = 0
  let service = startService(dir, port, fsync, compactionOf(0))
  for (let round = 0; round < ROUNDS; round++) {
    await waitReady(base, service)
    verify(await listAll(base), known, creating)

    const { child } = service
    const stop = { now: false }
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(base, `r${round}c${c}`, known, creating, stop))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await new Promise<void>((resolve) => {
      const kill = (): void => { watcher?.close(); clearTimeout(timer); child.kill('SIGKILL'); resolve() }
      const timer = setTimeout(kill, 100 + random(900))
      // Kill as soon as a compaction starts (a new log or a temp file appears), at once or a moment later.
      const watcher = compactionOf(round) === 'kill as it starts'
        ? watch(dir, (event, name) => {
          if (event !== 'rename' || name === null || !/^log-.*\.aof$|\.tmp$/.test(name) || !existsSync(join(dir, name))) return
          if (random(2) === 0) kill()
          else setTimeout(kill, random(4))
        })
        : undefined
    })
    await exited
    stop.now = true
    await Promise.all(clients)
    if (midCompaction(dir)) mid++
    service = startService(dir, port, fsync, compactionOf(round + 1))
  }
  await waitReady(base, service)
  verify(await listAll(base), known, creating)
  service.child.kill('SIGKILL')
  const acknowledged = [...known.values()].filter((k) => k.acked !== 'deleted').length
  return { rounds: ROUNDS, midCompaction: mid, acknowledged }
}

describe('crash test: SIGKILL at random moments, over HTTP, on the same directory round after round', () => {
  for (const fsync of FSYNC_MODES) {
    it.concurrent(`loses no acknowledged write with FSYNC=${fsync}`, { timeout: 30_000 + ROUNDS * 15_000 }, async () => {
      const result = await crashRounds(fsync)
      console.info(`FSYNC=${fsync}: ${result.rounds} kills, ${result.midCompaction} in the middle of a compaction, ${result.acknowledged} chats checked at the end`)
      expect(result.acknowledged).toBeGreaterThan(0)
    })
  }
})
