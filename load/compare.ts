/**
 * Server CPU µs per request of two (or more) builds of the service, A, B, …, started side by side
 * and driven alternately with the same fixed number of requests of each scenario (the load test's
 * own), so that a busy machine weighs on all alike. For changes smaller than the load test's
 * run-to-run noise. Run: `npm run load -- compare <dirA> <dirB> [<dirC> …] [scenarios] [rounds]
 * [requests]` (defaults: create,patch,replace,delete; 5 rounds after a warm-up one; 20,000 requests),
 * each dir holding a built `dist/server.js` (e.g. `npm run build` in two worktrees).
 * `NODE_ARGS_<letter>` (e.g. `NODE_ARGS_B='--max-semi-space-size=32'`) adds Node flags to one build.
 */
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { measure, seed } from './bench.js'
import { deployedEnv, freePort, startServer, type ServerProcess } from './processes.js'
import { autocannonOptions, fillRequests, scenarioRequests, type Pools } from './scenarios.js'
import type { ScenarioName } from './args.js'
import { median } from './report.js'

const argv = process.argv.slice(2)
const isDir = (arg: string): boolean => existsSync(arg) && statSync(arg).isDirectory()
const dirs = argv.filter(isDir)
const [list = 'create,patch,replace,delete', roundsArg = '5', amountArg = '20000'] = argv.filter((arg) => !isDir(arg))
if (dirs.length < 2) throw new Error('usage: npm run load -- compare <dirA> <dirB> [<dirC> …] [scenarios] [rounds] [requests]')
const scenarios = list.split(',') as ScenarioName[]
const rounds = Number(roundsArg)
const amount = Number(amountArg)

async function start (dir: string, name: string): Promise<ServerProcess> {
  const port = await freePort()
  const flags = (process.env[`NODE_ARGS_${name}`] ?? '').split(' ').filter(Boolean)
  return await startServer({
    name,
    nodeArgs: [...flags, path.join(path.resolve(dir), 'dist', 'server.js')],
    cwd: path.resolve(dir),
    port,
    env: {
      ...deployedEnv(), AUTH_MODE: 'none', HOST: '127.0.0.1', PORT: String(port), MAX_ITEMS: '2000000', MAX_STORE_BYTES: '0',
      RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1,::ffff:127.0.0.1', RATE_LIMIT_READ_MAX: '1000000000', RATE_LIMIT_WRITE_MAX: '1000000000'
    },
    logFile: '/dev/null',
    readyPath: '/health/ready'
  })
}

const servers: ServerProcess[] = []
try {
  // Inside the try: a build that fails to start must not leave the ones before it running.
  for (const [i, dir] of dirs.entries()) servers.push(await start(dir, String.fromCharCode(65 + i)))
  const pools: Pools[] = []
  for (const server of servers) {
    const chats = await seed(server.url, 10_000, 50, false)
    pools.push({ seedIds: chats.map((c) => c.id), created: [], dry: 0 })
  }
  const best = servers.map(() => new Map<string, number>())
  const all = servers.map(() => new Map<string, number[]>())
  for (let round = 0; round <= rounds; round++) {
    for (const scenario of scenarios) {
      for (let s = 0; s < servers.length; s++) {
        const server = servers[s]!
        const p = pools[s]!
        if (scenario === 'delete' || scenario === 'mixed') {
          const need = amount - p.created.length
          if (need > 0) await measure(autocannonOptions(server.url, 'fill', fillRequests(p), { amount: need, connections: 50 }), false)
        }
        const cpu0 = server.cpuSeconds()!
        const result = await measure(autocannonOptions(server.url, scenario, scenarioRequests(scenario, { dialect: 'service', pools: p, filteredList: true }), { amount, connections: 50 }), false)
        const us = (server.cpuSeconds()! - cpu0) * 1e6 / result.requests.total
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${server.name} ${scenario}: ${result.non2xx} non-2xx, ${result.errors} errors`)
        if (round === 0) continue // warm-up
        best[s]!.set(scenario, Math.min(best[s]!.get(scenario) ?? Infinity, us))
        all[s]!.set(scenario, [...(all[s]!.get(scenario) ?? []), us])
      }
    }
  }
  for (const scenario of scenarios) {
    const cells = servers.map((server, s) => `${server.name} best ${best[s]!.get(scenario)!.toFixed(1)} median ${median(all[s]!.get(scenario)!).toFixed(1)}`)
    process.stdout.write(`${scenario.padEnd(8)} ${cells.join('   ')}  µs CPU/req\n`)
  }
} finally {
  for (const server of servers) await server.stop()
}
