import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Whether nothing listens on the port (127.0.0.1). */
async function isFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/** `count` consecutive free ports from about `from`, each with its cluster bus port (+10000) free too. */
export async function freePorts (count: number, from = 7100 + Math.floor(Math.random() * 800)): Promise<number[]> {
  for (let base = from; base < 9900; base += count) {
    const ports = Array.from({ length: count }, (_, i) => base + i)
    const free = await Promise.all(ports.flatMap((p) => [isFree(p), isFree(p + 10000)]))
    if (free.every(Boolean)) return ports
  }
  throw new Error('no free ports for a test Redis')
}

/** redis-cli against the local node on `port`; its output. */
export async function redisCli (port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })
  return stdout
}

export async function until (what: string, check: () => Promise<boolean>, timeoutMs = 20_000, hopeless = (): boolean => false): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (hopeless()) throw new Error(`gave up waiting for ${what}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A redis-server of its own (no persistence) on `port`, in `dir`. */
export class RedisProcess {
  private child: ChildProcess | undefined

  constructor (readonly port: number, private readonly dir: string, private readonly extra: string[] = []) {}

  async start (): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...this.extra], { stdio: 'ignore' })
    this.child = child
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject)
      child.once('spawn', () => { resolve() })
    })
    // Ours, not another one that took the port meanwhile: the answer names our process.
    await until(`redis-server on port ${this.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode} (port taken?)`)
      return (await redisCli(this.port, 'info', 'server')).includes(`process_id:${child.pid!}\r`)
    }, 20_000, () => child.exitCode !== null)
  }

  /** Kills it (SIGKILL: as a crash would) and waits for the process to be gone. */
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill(signal)
    await exited
    this.child = undefined
  }
}

/** A private single Redis on a free port (for fault tests that stop and restart it). */
export async function startRedis (): Promise<{ redis: RedisProcess, url: string, stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-single-'))
  const [port] = await freePorts(1)
  const redis = new RedisProcess(port!, dir)
  await redis.start()
  return {
    redis,
    url: `redis://127.0.0.1:${port!}`,
    async stop () {
      await redis.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface TestCluster {
  nodes: { host: string, port: number }[]
  processes: RedisProcess[]
  stop: () => Promise<void>
}

/**
 * A Redis Cluster of 3 primaries and 3 replicas on free ports, each node a redis-server of its own
 * (no persistence, a temporary directory), created with `redis-cli --cluster create` and ready
 * (`cluster_state:ok` on every node, every replica in sync). `stop` kills them all and removes the
 * directory; a failed start stops what it started.
 */
export async function startCluster (): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'))
  const ports = await freePorts(6)
  const processes = ports.map((port) => new RedisProcess(port, dir, ['--cluster-enabled', 'yes',
    '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--appendonly', 'no']))
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map(async (p) => { await p.kill() }))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await Promise.all(processes.map(async (p) => { await p.start() }))
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 })
    for (const port of ports) {
      await until(`cluster_state:ok on ${port}`, async () => {
        const info = await redisCli(port, 'cluster', 'info')
        return info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384') && info.includes('cluster_known_nodes:6')
      })
    }
    // Every node must know every replica as one (gossip takes a moment), or a client that asks it for
    // the slots would see no replicas to read from.
    for (const port of ports) {
      await until(`3 replicas known to ${port}`, async () => {
        // One range a primary (as `--cluster create` assigns them): [start, end, primary, replica…].
        const slots = JSON.parse(await redisCli(port, '--json', 'cluster', 'slots')) as unknown[][]
        return slots.length === 3 && slots.every((range) => range.length >= 4)
      })
    }
    for (const port of ports) {
      await until(`replication on ${port}`, async () => {
        const info = await redisCli(port, 'info', 'replication')
        return info.includes('role:master') ? info.includes('connected_slaves:1') : info.includes('master_link_status:up')
      })
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), processes, stop }
}
