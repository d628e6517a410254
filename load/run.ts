import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Request, Result } from 'autocannon'
import { benchmarkNodeArgs, parseCommand, USAGE, type BenchmarkName, type Command, type LoadOptions } from './args.js'
import { authSetup, type AuthSetup } from './auth.js'
import { combineParts, measure, seed, storeSize, supportsFilteredList, type Part } from './bench.js'
import { deployedEnv, freePort, startServer, type ServerProcess } from './processes.js'
import { profileText, summarizeProfile, type CpuProfile } from './profile-summary.js'
import { authComparison, barChart, benchmarkReport, cpuRatio, formatTable, markdownReport, ratioToCeiling, soakText, verdict, type RunReport, type Row, type SoakReport, type Summary } from './report.js'
import { autocannonOptions, ceilingRequests, fillRequests, listPath, scenarioRequests, type Dialect, type Pools, type ScenarioContext } from './scenarios.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RESULTS = path.join(ROOT, 'load', 'results')
/** Deletes draw on chats made for them, at most this many a run (making them takes time too). */
const MAX_DELETE_POOL = 250_000
/**
 * The service's store limits in a run: room for every chat the scenarios make (creates keep
 * what they make, deletes need as many made beforehand). The memory budget goes up with the
 * item limit, past 2,000,000 chats of the load test's sizes (about 1.1 KB each as the guard
 * counts them), so that MAX_ITEMS binds first; the default 256 MiB (about 240,000 such chats)
 * refused some of the chats made for deletes with a 507.
 */
const STORE_MAX_ITEMS = 2_000_000
const STORE_MAX_BYTES = 4 * 2 ** 30
/** How long each alternating slice of ceiling and scenario lasts, at most about. */
const SLICE_SECONDS = 2
/** Lower bounds for sizing pools before anything was measured (req/s). */
const MAX_RATE_GUESS = 20_000
const PEER_WRITE_RATE_GUESS = 50

interface Target {
  name: 'service' | 'json-server' | 'floor'
  dialect: Dialect
  server: ServerProcess
  pools: Pools
  createRps?: number
  /** A service's auth mode when the run has several (--auth), and what each request to it carries. */
  auth?: AuthSetup
  headers?: Record<string, string>
}

const say = (line: string): void => { process.stdout.write(line + '\n') }

function machine (): string {
  const cpus = os.cpus()
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `${os.type()} ${os.release()}, Node ${process.version}`
}

async function startService (options: LoadOptions, stamp: string, profileDir: string, auth: AuthSetup, profile: boolean): Promise<ServerProcess> {
  const entry = path.join(ROOT, 'dist', 'server.js')
  if (!existsSync(entry)) throw new Error('dist/server.js is missing: run `npm run load`, which builds first')
  const port = await freePort()
  return await startServer({
    name: 'service',
    nodeArgs: [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), entry],
    cwd: ROOT,
    port,
    // Production as deployed (JSON logs at info, to a file), but with room for the run's chats,
    // and the runner's own address exempt from rate limits (and the limits raised besides).
    env: {
      ...deployedEnv(),
      HOST: '127.0.0.1',
      PORT: String(port),
      MAX_ITEMS: String(STORE_MAX_ITEMS),
      MAX_STORE_BYTES: String(STORE_MAX_BYTES),
      RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1,::ffff:127.0.0.1',
      RATE_LIMIT_READ_MAX: '1000000000',
      RATE_LIMIT_WRITE_MAX: '1000000000',
      ...auth.env,
      ...options.env
    },
    logFile: path.join(RESULTS, `${stamp}-service${auth.mode === 'none' ? '' : `-${auth.mode}`}.log`),
    readyPath: '/health/ready'
  })
}

/**
 * Runs a benchmark's script as a child process (with the Node flags it needs), its output shown
 * as it comes and saved with the command, the environment it read and the machine. Answers its exit code.
 */
async function runBenchmark (name: BenchmarkName, args: string[]): Promise<number> {
  const startedAt = new Date().toISOString()
  mkdirSync(RESULTS, { recursive: true })
  const child = spawn(process.execPath, benchmarkNodeArgs(name, args), { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk)
    output += chunk.toString()
  })
  const code = await new Promise<number>((resolve) => child.once('close', (status: number | null) => { resolve(status ?? 1) }))
  const env = Object.entries(process.env).filter(([key]) => key.startsWith('BENCH_') || key.startsWith('NODE_ARGS_') || key === 'GLIBC_TUNABLES')
  const file = path.join(RESULTS, `${startedAt.replace(/[:.]/g, '-')}-${name}.md`)
  writeFileSync(file, benchmarkReport({ name, startedAt, command: ['npm run load --', name, ...args].join(' '), env: Object.fromEntries(env) as Record<string, string>, machine: machine(), output, exitCode: code }))
  say(`\nResults: ${path.relative(ROOT, file)}`)
  return code
}

async function main (): Promise<void> {
  let command: Command
  try {
    command = parseCommand(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if (command.kind === 'benchmark') {
    if (command.help) say(USAGE)
    else process.exitCode = await runBenchmark(command.name, command.args)
    return
  }
  const { options } = command
  if (options.help) {
    say(USAGE)
    return
  }

  const startedAt = new Date().toISOString()
  const stamp = startedAt.replace(/[:.]/g, '-')
  mkdirSync(RESULTS, { recursive: true })
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'chat-load-'))
  const profileDir = path.join(RESULTS, `${stamp}-profile`)
  const servers: ServerProcess[] = []
  const notes: string[] = []
  const raw: { title: string, result: Result }[] = []
  const rows: Row[] = []
  const ceilingRuns: RunReport['ceilingRuns'] = []
  const { duration, connections } = options
  let soak: SoakReport | undefined

  try {
    // One service per auth mode (--auth), each seeded over HTTP with its own credentials; the first is profiled.
    const auths = options.auth.map((mode) => authSetup(mode, tmp))
    const several = auths.length > 1 || auths[0]?.mode !== 'none'
    const services: Target[] = []
    let chats: Awaited<ReturnType<typeof seed>> = []
    for (const [i, auth] of auths.entries()) {
      const server = await startService(options, stamp, profileDir, auth, options.profile && i === 0)
      servers.push(server)
      say(`service${several ? ` (AUTH_MODE=${auth.mode})` : ''}: pid ${server.pid} at ${server.url}, logs in ${path.relative(ROOT, server.logFile)}`)
      const seeded = await seed(server.url, options.seed, connections, process.stdout.isTTY, auth.headers)
      if (i === 0) chats = seeded
      services.push({ name: 'service', dialect: 'service', server, pools: { seedIds: seeded.map((c) => c.id), created: [], dry: 0 }, ...(several ? { auth } : {}), headers: auth.headers })
    }
    const service = services[0]!.server
    const serviceHeaders = services[0]!.headers
    if (Object.keys(options.env).length > 0) notes.push(`Service environment changed for this run: ${Object.entries(options.env).map(([k, v]) => `${k}=${v}`).join(' ')}.`)
    if (several) notes.push(`One service per auth mode (${auths.map((a) => a.mode).join(', ')}), each through the same scenarios in turn, slice by slice: jwt sends one HS256 token (Authorization: Bearer), api-key one X-API-Key, on every request.`)
    const seedIds = chats.map((c) => c.id)
    const chatsFile = path.join(tmp, 'chats.json')
    writeFileSync(chatsFile, JSON.stringify(chats))
    say(`seeded ${chats.length} chats over HTTP`)

    const ceilingPort = await freePort()
    const ceiling = await startServer({
      name: 'ceiling',
      nodeArgs: ['--import', 'tsx', path.join(ROOT, 'load', 'ceiling.ts'), chatsFile],
      cwd: ROOT,
      port: ceilingPort,
      env: { ...deployedEnv(), PORT: String(ceilingPort) },
      logFile: path.join(RESULTS, `${stamp}-ceiling.log`),
      readyPath: `/chats/${seedIds[0]!}`
    })
    servers.push(ceiling)

    const targets: Target[] = [...services]
    if (options.peers) {
      const dbFile = path.join(tmp, 'db.json')
      writeFileSync(dbFile, JSON.stringify({ chats }))
      const port = await freePort()
      const peer = await startServer({
        name: 'json-server',
        nodeArgs: [path.join(ROOT, 'node_modules', 'json-server', 'lib', 'cli', 'bin.js'), dbFile, '--port', String(port), '--host', '127.0.0.1', '--quiet'],
        cwd: tmp,
        port,
        env: { ...deployedEnv() },
        logFile: path.join(RESULTS, `${stamp}-json-server.log`),
        readyPath: `/chats/${seedIds[0]!}`
      })
      servers.push(peer)
      targets.push({ name: 'json-server', dialect: 'json-server', server: peer, pools: { seedIds, created: [], dry: 0 } })
      notes.push('json-server 0.17.4 runs as `json-server db.json --quiet` over the same chats; it writes its whole JSON file on every write, as it does by default.')
    }

    if (options.floor) {
      const port = await freePort()
      const floor = await startServer({
        name: 'floor',
        nodeArgs: ['--import', 'tsx', path.join(ROOT, 'load', 'floor.ts'), chatsFile],
        cwd: ROOT,
        port,
        env: { ...deployedEnv(), PORT: String(port) },
        logFile: path.join(RESULTS, `${stamp}-floor.log`),
        readyPath: `/chats/${seedIds[0]!}`
      })
      servers.push(floor)
      targets.push({ name: 'floor', dialect: 'service', server: floor, pools: { seedIds, created: [], dry: 0 } })
      notes.push('floor: bare Fastify answering from a Map through the same query, body and response schemas, nothing else (`load/floor.ts`; a list URL gets a page worked out once and kept): the most a Fastify service reaches against the ceiling on this machine.')
    }

    const filteredList = await supportsFilteredList(service.url, listPath('service', true), serviceHeaders)
    if (!filteredList && options.scenarios.some((s) => s === 'list' || s === 'mixed')) {
      const note = `list: this build answers 400 to filters and sort on GET /chats (the query engine is not merged yet), so the list page is \`${listPath('service', false)}\` instead of \`${listPath('service', true)}\`${options.peers ? ' (json-server gets the matching page)' : ''}.`
      notes.push(note)
      say(`NOTE ${note}`)
    }

    /** One autocannon run, with the CPU time the server spent on it. */
    const runOnce = async (target: { name: string, server: ServerProcess, headers?: Record<string, string>, auth?: AuthSetup }, title: string, requests: Request[], how: { duration?: number, amount?: number }): Promise<Part> => {
      const cpuBefore = target.server.cpuSeconds()
      // autocannon wants no more connections than requests, which a small fixed amount can be.
      const runConnections = how.amount === undefined ? connections : Math.max(1, Math.min(connections, how.amount))
      const label = target.auth === undefined ? target.name : `${target.name} ${target.auth.mode}`
      const result = await measure({ ...autocannonOptions(target.server.url, `${label} ${title}`, requests, { ...how, connections: runConnections, ...(target.headers === undefined ? {} : { headers: target.headers }) }), skipAggregateResult: true })
      const cpuAfter = target.server.cpuSeconds()
      return { result, ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { cpuSeconds: cpuAfter - cpuBefore }) }
    }
    const combined = (title: string, url: string, parts: Part[]): Summary => {
      const { summary, result } = combineParts(parts, { url, connections })
      raw.push({ title, result })
      return summary
    }
    const ceilingTarget = { name: 'ceiling', server: ceiling }
    const context = (t: Target): ScenarioContext => ({ dialect: t.dialect, pools: t.pools, filteredList })

    if (options.warmup > 0) {
      say(`warming up for ${options.warmup} s on each server`)
      await measure(autocannonOptions(ceiling.url, 'warmup ceiling', ceilingRequests(seedIds), { duration: options.warmup, connections }))
      for (const t of targets) {
        const requests = scenarioRequests(t.name === 'json-server' ? 'get' : 'mixed', context(t))
        await measure(autocannonOptions(t.server.url, `warmup ${t.name}`, requests, { duration: options.warmup, connections, ...(t.headers === undefined ? {} : { headers: t.headers }) }))
        // The warm-up's mixed workload finds no chats made for deletes yet and reads instead: not a pool that ran dry.
        t.pools.dry = 0
      }
    }

    /** Creates chats for later deletes until `wanted` wait in the target's pool. */
    const fillPool = async (t: Target, wanted: number): Promise<void> => {
      const missing = Math.min(MAX_DELETE_POOL, wanted) - t.pools.created.length
      if (missing <= 0) return
      const { result } = await runOnce(t, 'creating chats to delete', fillRequests(t.pools), { amount: missing })
      // A run made with skipAggregateResult: counts only, no histograms.
      const refused = result.non2xx + result.errors
      if (refused > 0) notes.push(`${t.name}: ${refused} of ${missing} creates made for deletes were refused (${Object.keys(result.statusCodeStats ?? {}).join(', ')}), the store's limits probably; the deletes used what there was.`)
    }
    /** About how many requests a second the target can answer at most: the fastest ceiling for the service and the floor, its create rate for a peer. */
    const fastest = (t: Target): number => t.name !== 'json-server' ? Math.max(MAX_RATE_GUESS, ...ceilingRuns.map((c) => c.rps)) : (t.createRps ?? PEER_WRITE_RATE_GUESS)
    /** Each delete run is a fixed number of deletes, about what the target can do in `duration`, of chats made for it beforehand, so no delete meets a missing id. */
    const deleteAmount = async (t: Target): Promise<number> => {
      const wanted = Math.min(MAX_DELETE_POOL, Math.ceil(fastest(t) * duration))
      await fillPool(t, wanted)
      return Math.min(wanted, t.pools.created.length)
    }
    /** The mixed workload deletes 3% of its requests, of chats made beforehand (with none left, it reads instead). */
    const fillForMixed = async (t: Target, seconds: number): Promise<void> => { await fillPool(t, Math.ceil(0.03 * fastest(t) * seconds * 1.5)) }

    // Each scenario's time is cut into slices, each after a slice of the ceiling, so that both
    // meet the same background load on a shared machine; their sums make the figures.
    const slices = Math.max(1, Math.round(duration / SLICE_SECONDS))
    for (const name of options.scenarios) {
      const amounts = new Map<Target, number>()
      if (name === 'delete') for (const t of targets) amounts.set(t, await deleteAmount(t))
      if (name === 'mixed') for (const t of targets) await fillForMixed(t, duration)
      const ceilingParts: Part[] = []
      const parts = new Map<Target, Part[]>(targets.map((t) => [t, []]))
      for (let i = 1; i <= slices; i++) {
        const slice = slices > 1 ? ` ${i}/${slices}` : ''
        ceilingParts.push(await runOnce(ceilingTarget, `get (next to ${name})${slice}`, ceilingRequests(seedIds), { duration: duration / slices }))
        for (const t of targets) {
          const amount = amounts.get(t)
          // A fixed amount is shared out so that the slices add up to it exactly.
          const how = amount === undefined ? { duration: duration / slices } : { amount: Math.floor(amount * i / slices) - Math.floor(amount * (i - 1) / slices) }
          if (how.amount === 0) continue
          parts.get(t)!.push(await runOnce(t, `${name}${slice}`, scenarioRequests(name, context(t)), how))
        }
      }
      const ceilingSummary = combined(`ceiling get (next to ${name})`, ceiling.url, ceilingParts)
      ceilingRuns.push({ scenario: name, rps: ceilingSummary.rps, ...(ceilingSummary.cpuUsPerRequest === undefined ? {} : { cpuUsPerRequest: ceilingSummary.cpuUsPerRequest }) })
      const measured: Row[] = []
      for (const t of targets) {
        const summary = combined(`${t.name}${t.auth === undefined ? '' : ` ${t.auth.mode}`} ${name}`, t.server.url, parts.get(t)!)
        if (name === 'create') t.createRps = summary.rps
        const cpu = cpuRatio(summary.cpuUsPerRequest, ceilingSummary.cpuUsPerRequest)
        measured.push({ target: t.name, ...(t.auth === undefined ? {} : { auth: t.auth.mode }), scenario: name, ...summary, ...ratioToCeiling(summary.rps, ceilingSummary.rps), ...(cpu === undefined ? {} : { cpuRatio: cpu }) })
      }
      rows.push(...measured)
      say(formatTable(measured).split('\n').slice(2).join('\n'))
    }
    for (const t of targets) {
      if (t.pools.dry > 0) notes.push(`${t.name}: the chats made for deletes ran out; ${t.pools.dry} deletes had none left (in delete, a 404 each; in mixed, a read instead).`)
    }
    if (options.scenarios.includes('delete')) {
      notes.push('delete: each run deletes a fixed number of chats made for it beforehand (about what the fastest ceiling run could answer in the same time), so its duration is what that takes. Creates keep their ids for it; the rest are made just before, unmeasured.')
    }

    if (options.soak > 0) {
      await fillForMixed(targets[0]!, options.soak)
      const ceilingBefore = combined('ceiling get (before the soak)', ceiling.url, [await runOnce(ceilingTarget, 'get (before the soak)', ceilingRequests(seedIds), { duration })])
      const storeStart = await storeSize(service.url, serviceHeaders)
      const rssStart = service.rssMiB() ?? 0
      const samples: [number, number][] = [[0, rssStart]]
      const t0 = Date.now()
      const every = Math.max(1, options.soak / 20) * 1000
      const sampler = setInterval(() => { samples.push([(Date.now() - t0) / 1000, service.rssMiB() ?? 0]) }, every)
      const soakPart = await runOnce(targets[0]!, 'soak (mixed)', scenarioRequests('mixed', context(targets[0]!)), { duration: options.soak })
      clearInterval(sampler)
      const rssEnd = service.rssMiB() ?? 0
      const endAt = (Date.now() - t0) / 1000
      if (endAt - (samples.at(-1)?.[0] ?? 0) > 0.5) samples.push([endAt, rssEnd])
      const storeEnd = await storeSize(service.url, serviceHeaders)
      const ceilingAfter = combined('ceiling get (after the soak)', ceiling.url, [await runOnce(ceilingTarget, 'get (after the soak)', ceilingRequests(seedIds), { duration })])
      ceilingRuns.push({ scenario: 'before the soak', rps: ceilingBefore.rps }, { scenario: 'after the soak', rps: ceilingAfter.rps })
      const summary = combined('service soak (mixed)', service.url, [soakPart])
      rows.push({ target: 'service', scenario: 'soak', ...summary, ...ratioToCeiling(summary.rps, ceilingBefore.rps, ceilingAfter.rps) })
      soak = { seconds: options.soak, rssStartMiB: rssStart, rssEndMiB: rssEnd, rssSamples: samples, storeStart, storeEnd }
    }
  } finally {
    for (const server of [...servers].reverse()) await server.stop()
    rmSync(tmp, { recursive: true, force: true })
  }

  const service = servers.find((s) => s.name === 'service')
  if (service !== undefined) {
    const lines = readFileSync(service.logFile, 'utf8').split('\n').filter(Boolean).length
    notes.push(`The service logged ${lines.toLocaleString('en-US')} lines (pino JSON at info, as in production) to \`${path.relative(ROOT, service.logFile)}\`.`)
  }

  const report: RunReport = {
    startedAt,
    command: ['npm run load', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: machine(),
    options: { ...options },
    notes,
    rows,
    ceilingRuns,
    ...(soak === undefined ? {} : { soak })
  }
  const markdown = markdownReport(report)
  writeFileSync(path.join(RESULTS, `${stamp}.json`), JSON.stringify({ ...report, raw }, null, 2))
  writeFileSync(path.join(RESULTS, `${stamp}.md`), markdown)
  writeFileSync(path.join(RESULTS, 'latest.md'), markdown)

  say('')
  say(formatTable(rows))
  say('')
  say(barChart(rows))
  const auth = authComparison(rows)
  if (auth !== '') say('\n' + auth)
  if (soak !== undefined) say('\n' + soakText(soak))
  for (const note of notes) say(`- ${note}`)
  const judged = rows.map(verdict).filter((v) => v !== undefined)
  if (judged.length > 0) say(`\n${judged.filter((v) => v.ok).length} of ${judged.length} service scenarios met their targets.`)
  say(`Results: load/results/${stamp}.md and .json (latest.md is a copy of the Markdown).`)

  if (options.profile && existsSync(profileDir)) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
    if (file !== undefined) {
      const text = profileText(summarizeProfile(JSON.parse(readFileSync(path.join(profileDir, file), 'utf8')) as CpuProfile))
      writeFileSync(path.join(RESULTS, `${stamp}-profile.txt`), text + '\n')
      say('\n' + text)
    }
  }
}

await main()
