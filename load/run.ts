import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Result } from 'autocannon'
import { parseLoadArgs, USAGE, type LoadOptions, type ScenarioName } from './args.js'
import { measure, seed, storeSize, supportsFilteredList } from './bench.js'
import { freePort, startServer, type ServerProcess } from './processes.js'
import { profileText, summarizeProfile, type CpuProfile } from './profile-summary.js'
import { barChart, formatTable, markdownReport, ratioToCeiling, soakText, summarize, verdict, type RunReport, type Row, type SoakReport, type Summary } from './report.js'
import { autocannonOptions, ceilingRequests, listPath, scenarioRequests, type Dialect, type Pools } from './scenarios.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RESULTS = path.join(ROOT, 'load', 'results')
/** Deletes draw on chats made for them; more than this would press on the store's default memory budget. */
const MAX_DELETE_POOL = 400_000

interface Target {
  name: 'service' | 'json-server'
  dialect: Dialect
  server: ServerProcess
  pools: Pools
  createRps?: number
}

const say = (line: string): void => { process.stdout.write(line + '\n') }

function machine (): string {
  const cpus = os.cpus()
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `${os.type()} ${os.release()}, Node ${process.version}`
}

async function startService (options: LoadOptions, stamp: string, profileDir: string): Promise<ServerProcess> {
  const entry = path.join(ROOT, 'dist', 'server.js')
  if (!existsSync(entry)) throw new Error('dist/server.js is missing: run `npm run load`, which builds first')
  const port = await freePort()
  return await startServer({
    name: 'service',
    nodeArgs: [...(options.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), entry],
    cwd: ROOT,
    port,
    // Production as deployed (JSON logs at info, to a file), but with room for the run's chats,
    // and the runner's own address exempt from rate limits (and the limits raised besides).
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      MAX_ITEMS: '2000000',
      RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1,::ffff:127.0.0.1',
      RATE_LIMIT_READ_MAX: '1000000000',
      RATE_LIMIT_WRITE_MAX: '1000000000',
      ...options.env
    },
    logFile: path.join(RESULTS, `${stamp}-service.log`),
    readyPath: '/health/ready'
  })
}

async function main (): Promise<void> {
  let options: LoadOptions
  try {
    options = parseLoadArgs(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if (options.help) return say(USAGE)

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
    const service = await startService(options, stamp, profileDir)
    servers.push(service)
    if (Object.keys(options.env).length > 0) notes.push(`Service environment changed for this run: ${Object.entries(options.env).map(([k, v]) => `${k}=${v}`).join(' ')}.`)
    say(`service: pid ${service.pid} at ${service.url}, logs in ${path.relative(ROOT, service.logFile)}`)

    const chats = await seed(service.url, options.seed, connections)
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
      env: { NODE_ENV: 'production', PORT: String(ceilingPort) },
      logFile: path.join(RESULTS, `${stamp}-ceiling.log`),
      readyPath: `/chats/${seedIds[0]!}`
    })
    servers.push(ceiling)

    const targets: Target[] = [{ name: 'service', dialect: 'service', server: service, pools: { seedIds, created: [], dry: 0 } }]
    if (options.peers) {
      const dbFile = path.join(tmp, 'db.json')
      writeFileSync(dbFile, JSON.stringify({ chats }))
      const port = await freePort()
      const peer = await startServer({
        name: 'json-server',
        nodeArgs: [path.join(ROOT, 'node_modules', 'json-server', 'lib', 'cli', 'bin.js'), dbFile, '--port', String(port), '--host', '127.0.0.1', '--quiet'],
        cwd: tmp,
        port,
        env: { NODE_ENV: 'production' },
        logFile: path.join(RESULTS, `${stamp}-json-server.log`),
        readyPath: `/chats/${seedIds[0]!}`
      })
      servers.push(peer)
      targets.push({ name: 'json-server', dialect: 'json-server', server: peer, pools: { seedIds, created: [], dry: 0 } })
      notes.push('json-server 0.17.4 runs as `json-server db.json --quiet` over the same chats; it writes its whole JSON file on every write, as it does by default.')
    }

    const filteredList = await supportsFilteredList(service.url, listPath('service', true))
    if (!filteredList && options.scenarios.some((s) => s === 'list' || s === 'mixed')) {
      const note = `list: this build answers 400 to filters and sort on GET /chats (the query engine is not merged yet), so the list page is \`${listPath('service', false)}\` instead of \`${listPath('service', true)}\`${options.peers ? ' (json-server gets the matching page)' : ''}.`
      notes.push(note)
      say(`NOTE ${note}`)
    }

    const run = async (target: { name: string, server: ServerProcess }, title: string, requests: ReturnType<typeof ceilingRequests>, how: { duration?: number, amount?: number } = { duration }): Promise<Summary> => {
      const cpuBefore = target.server.cpuSeconds()
      const result = await measure(autocannonOptions(target.server.url, `${target.name} ${title}`, requests, { ...how, connections }))
      const cpuAfter = target.server.cpuSeconds()
      raw.push({ title: `${target.name} ${title}`, result })
      const summary = summarize(result)
      if (cpuBefore === undefined || cpuAfter === undefined || summary.requests === 0) return summary
      return { ...summary, cpuUsPerRequest: (cpuAfter - cpuBefore) * 1e6 / summary.requests }
    }
    const ceilingTarget = { name: 'ceiling', server: ceiling }
    const runCeiling = async (): Promise<number> => {
      const summary = await run(ceilingTarget, 'get', ceilingRequests(seedIds))
      ceilingRuns.push({ rps: summary.rps, ...(summary.cpuUsPerRequest === undefined ? {} : { cpuUsPerRequest: summary.cpuUsPerRequest }) })
      return summary.rps
    }

    if (options.warmup > 0) {
      say(`warming up for ${options.warmup} s on each server`)
      await measure(autocannonOptions(ceiling.url, 'warmup ceiling', ceilingRequests(seedIds), { duration: options.warmup, connections }))
      for (const t of targets) {
        const requests = scenarioRequests(t.name === 'service' ? 'mixed' : 'get', { dialect: t.dialect, pools: t.pools, filteredList })
        await measure(autocannonOptions(t.server.url, `warmup ${t.name}`, requests, { duration: options.warmup, connections }))
      }
    }

    /**
     * Deletes need chats to delete: each delete run is a fixed number of them, about what the
     * target can do in `duration` (for the service the fastest ceiling run bounds that; for a peer,
     * its create rate), made beforehand by creates, so no delete meets a missing id.
     */
    const deleteAmount = async (t: Target): Promise<number> => {
      const rate = t.name === 'service' ? Math.max(...ceilingRuns.map((c) => c.rps)) : t.createRps
      const creates = scenarioRequests('create', { dialect: t.dialect, pools: t.pools, filteredList })
      if (rate === undefined || !(rate > 0)) await run(t, 'delete pool fill', creates)
      const wanted = Math.min(MAX_DELETE_POOL, rate === undefined || !(rate > 0) ? t.pools.created.length : Math.ceil(rate * duration))
      const missing = wanted - t.pools.created.length
      if (missing > 0) await run(t, 'delete pool fill', creates, { amount: missing })
      return wanted
    }

    let before = options.scenarios.length > 0 ? await runCeiling() : undefined
    for (const name of options.scenarios) {
      const measured: Row[] = []
      for (const t of targets) {
        const how = name === 'delete' ? { amount: await deleteAmount(t) } : { duration }
        const dryBefore = t.pools.dry
        const summary = await run(t, name, scenarioRequests(name, { dialect: t.dialect, pools: t.pools, filteredList }), how)
        if (name === 'create') t.createRps = summary.rps
        const dry = t.pools.dry - dryBefore
        measured.push({ target: t.name, scenario: name, ...summary, ...(dry > 0 ? { note: `delete pool ran dry: ${dry} deletes of a missing id` } : {}) })
        if (dry > 0) notes.push(`${t.name} delete: the pool of chats to delete ran dry; ${dry} deletes asked for a missing id (404s in non-2xx).`)
      }
      const after = await runCeiling()
      for (const row of measured) rows.push({ ...row, ...ratioToCeiling(row.rps, before, after) })
      before = after
      say(formatTable(rows.slice(-measured.length)).split('\n').slice(2).join('\n'))
    }

    if (options.soak > 0) {
      const ceilingBefore = await runCeiling()
      const storeStart = await storeSize(service.url)
      const rssStart = service.rssMiB() ?? 0
      const samples: [number, number][] = [[0, rssStart]]
      const t0 = Date.now()
      const every = Math.max(1, options.soak / 20) * 1000
      const sampler = setInterval(() => { samples.push([(Date.now() - t0) / 1000, service.rssMiB() ?? 0]) }, every)
      const pools = targets[0]!.pools
      const summary = await run(targets[0]!, 'soak (mixed)', scenarioRequests('mixed', { dialect: 'service', pools, filteredList }), { duration: options.soak })
      clearInterval(sampler)
      const rssEnd = service.rssMiB() ?? 0
      samples.push([(Date.now() - t0) / 1000, rssEnd])
      const storeEnd = await storeSize(service.url)
      const ceilingAfter = await runCeiling()
      rows.push({ target: 'service', scenario: 'soak', ...summary, ...ratioToCeiling(summary.rps, ceilingBefore, ceilingAfter) })
      soak = { seconds: options.soak, rssStartMiB: rssStart, rssEndMiB: rssEnd, rssSamples: samples, storeStart, storeEnd }
    }
  } finally {
    for (const server of servers.reverse()) await server.stop()
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
  if (soak !== undefined) say('\n' + soakText(soak))
  for (const note of notes) say(`- ${note}`)
  const judged = rows.map(verdict).filter((v) => v !== undefined)
  say(`\n${judged.filter((v) => v.ok).length} of ${judged.length} service scenarios met their targets. ` +
    `Results: load/results/${stamp}.md and .json (latest.md is a copy of the Markdown).`)

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
