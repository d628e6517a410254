import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

const root = new URL('../..', import.meta.url).pathname

/** Builds dist/ (a built service starts with half the CPU of tsx); for a beforeAll. */
export function buildService (): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root })
}

/** A free TCP port on 127.0.0.1, as the OS hands one out. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => { resolve(port) })
    })
  })
}

/** One service process (dist/server.js) on its own port, as production starts it but for `env`. */
export class ServiceProcess {
  readonly child: ChildProcess
  private stderrText = ''

  private constructor (readonly base: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, ['dist/server.js'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production', AUTH_MODE: 'none', LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env }
    })
    this.child.stderr!.on('data', (chunk: Buffer) => { this.stderrText += chunk.toString() })
  }

  get stderr (): string { return this.stderrText }

  /** Starts one and waits until /health/ready answers 200. */
  static async start (env: Record<string, string>): Promise<ServiceProcess> {
    const port = await freePort()
    const service = new ServiceProcess(`http://127.0.0.1:${port}`, { ...env, PORT: String(port) })
    await service.waitReady()
    return service
  }

  async waitReady (timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`the service exited with ${this.child.exitCode} before it was ready:\n${this.stderrText}`)
      if (Date.now() > deadline) throw new Error(`the service was not ready after ${timeoutMs} ms:\n${this.stderrText}`)
      const ok = await fetch(`${this.base}/health/ready`).then((r) => r.status === 200, () => false)
      if (ok) return
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  /** SIGTERM, and waits for the exit. */
  async stop (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    await exited
  }
}
