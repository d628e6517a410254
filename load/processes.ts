import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * The process environment the image gives the service (the Dockerfile's ENV) besides its own
 * settings: production mode, and glibc's malloc asked to back its large blocks (typed arrays'
 * memory: the indexes, a snapshot's saved index image) with transparent huge pages. A page's
 * first touch costs about 10 µs on these VMs (112 MiB of a fresh typed array: 380 ms to fill the
 * first time, 5 ms the second); with huge pages, 20–40 ms. glibc then asks for them for its main
 * heap too, so the RSS can be somewhat higher; glibc without the tunable (or musl) ignores it.
 */
export const DEPLOYED_ENV = { NODE_ENV: 'production', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' } as const

/**
 * What every server a benchmark starts gets: `DEPLOYED_ENV`, but for a `GLIBC_TUNABLES` the shell
 * set (`GLIBC_TUNABLES= npm run bench:durability` measures without huge pages).
 */
export function deployedEnv (): Record<string, string> {
  const tunables = process.env.GLIBC_TUNABLES
  return { ...DEPLOYED_ENV, ...(tunables === undefined ? {} : { GLIBC_TUNABLES: tunables }) }
}

/** A server the runner started as its own process, stopped by its pid. */
export interface ServerProcess {
  name: string
  url: string
  pid: number
  logFile: string
  /** Resident set size from /proc/<pid>/status, in MiB; undefined where /proc is missing. */
  rssMiB: () => number | undefined
  /** User plus system CPU time the process has used, in seconds, from /proc/<pid>/stat. */
  cpuSeconds: () => number | undefined
  stop: () => Promise<void>
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

export function rssMiBOf (pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

/** Clock ticks per second of /proc/<pid>/stat times: 100 on Linux (USER_HZ). */
const CLOCK_TICKS = 100

export function cpuSecondsOf (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is the 3rd field, utime the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => { resolve() }))
}

export interface StartOptions {
  name: string
  /** Arguments to this Node binary. */
  nodeArgs: string[]
  env: Record<string, string>
  cwd: string
  port: number
  /** Where stdout and stderr go. */
  logFile: string
  /** A path that answers 200 once the server is ready. */
  readyPath: string
  timeoutMs?: number
}

/** Starts `node …args` with its output in a log file and waits until `readyPath` answers 200. */
export async function startServer (options: StartOptions): Promise<ServerProcess> {
  const log = openSync(options.logFile, 'a')
  const child = spawn(process.execPath, options.nodeArgs, {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', log, log]
  })
  closeSync(log)
  const pid = child.pid
  if (pid === undefined) throw new Error(`${options.name} did not start`)
  const url = `http://127.0.0.1:${options.port}`
  const server: ServerProcess = {
    name: options.name,
    url,
    pid,
    logFile: options.logFile,
    rssMiB: () => rssMiBOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const done = exited(child)
      const late = await Promise.race([done.then(() => false), sleep(15_000, true)])
      if (late) {
        child.kill('SIGKILL')
        await done
      }
    }
  }
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before it was ready; see ${options.logFile}`)
    }
    try {
      const res = await fetch(url + options.readyPath)
      await res.arrayBuffer()
      if (res.status === 200) return server
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await server.stop()
      throw new Error(`${options.name} was not ready within ${options.timeoutMs ?? 30_000} ms; see ${options.logFile}`)
    }
    await sleep(100)
  }
}
