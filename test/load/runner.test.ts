import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import type { Result } from 'autocannon'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authSetup } from '../../load/auth.js'
import { benchmarkNodeArgs, BENCHMARKS, parseCommand, parseLoadArgs, SCENARIOS, USAGE, type ScenarioName } from '../../load/args.js'
import { combineParts, measure, seed, storeSize, supportsFilteredList } from '../../load/bench.js'
import { startCeiling } from '../../load/ceiling.js'
import { startFloor } from '../../load/floor.js'
import { cpuSecondsOf, DEPLOYED_ENV, deployedEnv, freePort, rssMiBOf } from '../../load/processes.js'
import { areaOf, summarizeProfile, type CpuProfile } from '../../load/profile-summary.js'
import { authComparison, bar, barChart, benchmarkReport, cpuRatio, formatTable, markdownReport, markdownTable, ratioToCeiling, soakText, summarize, verdict, type Row } from '../../load/report.js'
import { autocannonOptions, ceilingRequests, chatInput, createdId, fillRequests, listPath, scenarioRequests, type Pools } from '../../load/scenarios.js'
import { loadConfig } from '../../src/config.js'
import type { Chat } from '../../src/store/types.js'
import { build } from '../helper.js'

describe('load runner: arguments', () => {
  it('defaults to every scenario, 10 s, 50 connections', () => {
    expect(parseLoadArgs([])).toMatchObject({ duration: 10, connections: 50, scenarios: [...SCENARIOS], peers: false, floor: false, soak: 0, seed: 10_000, profile: false, env: {}, auth: ['none'] })
  })

  it('takes --auth as a comma list of modes, in the order given, once each', () => {
    expect(parseLoadArgs(['get', 'create', '--auth', 'none,jwt,api-key']).auth).toEqual(['none', 'jwt', 'api-key'])
    expect(parseLoadArgs(['--auth', 'jwt, jwt']).auth).toEqual(['jwt'])
    expect(() => parseLoadArgs(['--auth', 'none,basic'])).toThrow(/--auth takes a comma list of none, jwt, api-key/)
    expect(() => parseLoadArgs(['--auth', ','])).toThrow(/--auth/)
  })

  it('reads duration, connections and a scenario list, in the run order whatever the order given', () => {
    const options = parseLoadArgs(['--duration', '5', '--connections', '20', '--scenarios', 'delete,get,create', '--peers', '--floor'])
    expect(options).toMatchObject({ duration: 5, connections: 20, scenarios: ['get', 'create', 'delete'], peers: true, floor: true })
    // Patch and replace run over the seeded chats, before create grows the store; delete takes what create made.
    expect(parseLoadArgs(['--scenarios', 'delete,create,replace,mixed,patch']).scenarios).toEqual(['patch', 'replace', 'create', 'delete', 'mixed'])
  })

  it('runs only the soak when --soak comes alone, and more when scenarios are named', () => {
    expect(parseLoadArgs(['--soak', '180']).scenarios).toEqual([])
    expect(parseLoadArgs(['--soak', '180', '--scenarios', 'get']).scenarios).toEqual(['get'])
    expect(parseLoadArgs(['--scenarios', 'none']).scenarios).toEqual([])
  })

  it('takes repeated --env KEY=VALUE pairs', () => {
    expect(parseLoadArgs(['--env', 'LOG_LEVEL=warn', '--env', 'A=b=c']).env).toEqual({ LOG_LEVEL: 'warn', A: 'b=c' })
  })

  it('takes scenarios named before the options, as --scenarios does, but not both', () => {
    expect(parseLoadArgs(['create', 'get', '--duration', '3']).scenarios).toEqual(['get', 'create'])
    expect(parseLoadArgs(['delete,patch']).scenarios).toEqual(['patch', 'delete'])
    expect(() => parseLoadArgs(['get', '--scenarios', 'create'])).toThrow(/not both/)
    expect(() => parseLoadArgs(['teleport'])).toThrow(/unknown scenario teleport/)
    // A benchmark is a command of its own, not a scenario among others.
    expect(() => parseLoadArgs(['get', 'durability'])).toThrow(/durability is a benchmark/)
  })

  it('runs a benchmark named first with every argument after it, in its own Node process', () => {
    expect(parseCommand(['durability', 'recovery'])).toEqual({ kind: 'benchmark', name: 'durability', args: ['recovery'], help: false })
    expect(parseCommand(['query', '--sizes=10000'])).toEqual({ kind: 'benchmark', name: 'query', args: ['--sizes=10000'], help: false })
    expect(parseCommand(['compare', '--help'])).toMatchObject({ kind: 'benchmark', name: 'compare', help: true })
    expect(parseCommand(['get', '--duration', '2'])).toMatchObject({ kind: 'load', options: { scenarios: ['get'], duration: 2 } })
    expect(parseCommand([])).toMatchObject({ kind: 'load', options: { scenarios: [...SCENARIOS] } })
    // The query benchmark measures the heap (gc) and holds a million chats three ways.
    expect(benchmarkNodeArgs('query', ['--sizes=10000'])).toEqual(['--expose-gc', '--max-old-space-size=6144', '--import', 'tsx', 'load/query-bench.ts', '--sizes=10000'])
    expect(benchmarkNodeArgs('durability', [])).toEqual(['--import', 'tsx', 'load/durability-bench.ts'])
    for (const { file } of Object.values(BENCHMARKS)) expect(existsSync(new URL(`../../load/${file}`, import.meta.url))).toBe(true)
  })

  it('lists every scenario, option and benchmark in --help', () => {
    for (const name of [...SCENARIOS, ...Object.keys(BENCHMARKS)]) expect(USAGE).toMatch(new RegExp(`^  ${name}\\b`, 'm'))
    for (const option of ['--duration', '--connections', '--scenarios', '--peers', '--floor', '--soak', '--warmup', '--seed', '--profile', '--env', '--auth', '--help']) expect(USAGE).toContain(option)
    expect(Math.max(...USAGE.split('\n').map((line) => line.length))).toBeLessThanOrEqual(110)
  })

  it('keeps bench:durability and bench:query as the tool\'s benchmarks', () => {
    const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
    expect(scripts['bench:durability']).toBe('npm run load -- durability')
    expect(scripts['bench:query']).toBe('npm run load -- query')
    expect(scripts.load).toMatch(/^npm run build && node --import tsx load\/run\.ts$/)
  })

  it('refuses what it cannot use, saying what', () => {
    expect(() => parseLoadArgs(['--scenarios', 'get,teleport'])).toThrow(/unknown scenario teleport/)
    expect(() => parseLoadArgs(['--duration', '0'])).toThrow(/--duration must be a number > 0/)
    expect(() => parseLoadArgs(['--connections', '2.5'])).toThrow(/--connections must be a whole number/)
    expect(() => parseLoadArgs(['--env', 'novalue'])).toThrow(/KEY=VALUE/)
    expect(() => parseLoadArgs(['--fast'])).toThrow()
  })
})

function row (over: Partial<Row>): Row {
  return { target: 'service', scenario: 'get', requests: 1000, seconds: 1, rps: 1000, p50: 1, p975: 3, p99: 4.5, errors: 0, non2xx: 0, statusCodes: { 200: 1000 }, ...over }
}

describe('load runner: figures and report', () => {
  it('takes the ratio against the mean of the ceiling runs next to it', () => {
    expect(ratioToCeiling(900, 1000, 800)).toEqual({ ratio: 1, ceilingRps: 900 })
    expect(ratioToCeiling(500, undefined, 1000)).toEqual({ ratio: 0.5, ceilingRps: 1000 })
    expect(ratioToCeiling(500)).toBeUndefined()
    expect(ratioToCeiling(500, 0)).toBeUndefined()
    expect(cpuRatio(20, 16)).toBeCloseTo(0.8, 10)
    expect(cpuRatio(undefined, 16)).toBeUndefined()
    expect(cpuRatio(0, 16)).toBeUndefined()
  })

  it('summarizes an autocannon result as throughput over its duration, latencies and failures', () => {
    const result = {
      requests: { total: 5000 },
      duration: 2,
      latency: { p50: 1, p97_5: 7, p99: 11 },
      errors: 2,
      non2xx: 3,
      statusCodeStats: { 200: { count: 4997 }, 404: { count: 3 } }
    } as unknown as Result
    expect(summarize(result)).toEqual({ requests: 5000, seconds: 2, rps: 2500, p50: 1, p975: 7, p99: 11, errors: 2, non2xx: 3, statusCodes: { 200: 4997, 404: 3 } })
  })

  it('judges service rows by ratio, p99, errors and non-2xx, and leaves peers unjudged', () => {
    expect(verdict(row({ ratio: 0.9 }))).toEqual({ ok: true, misses: [] })
    expect(verdict(row({ ratio: 0.8, p99: 30, errors: 1, non2xx: 2 }))?.misses).toEqual(['ratio < 0.85', 'p99 ≥ 25 ms', 'errors', 'non-2xx'])
    expect(verdict(row({ scenario: 'list', ratio: 0.61 }))?.ok).toBe(true)
    expect(verdict(row({ target: 'json-server', ratio: 0.1 }))).toBeUndefined()
  })

  it('prints an aligned table with every column', () => {
    const rows = [row({ ratio: 0.9, cpuUsPerRequest: 21.4, cpuRatio: 0.8 }), row({ scenario: 'create', rps: 12345.6, ratio: 0.5, p99: 40 })]
    const lines = formatTable(rows).split('\n')
    expect(lines[0]).toMatch(/^target\s+scenario\s+req\/s\s+p50 ms\s+p97.5 ms\s+p99 ms\s+errors\s+non-2xx\s+ratio to ceiling\s+server CPU µs\/req\s+CPU ratio\s+target met$/)
    expect(lines[2]).toMatch(/service\s+get\s+1,000\s+1\s+3\s+4.50\s+0\s+0\s+0.90\s+21\s+0.80\s+✓ ≥ 0.85/)
    expect(lines[3]).toMatch(/service\s+create\s+12,346 .* 0.50\s+–\s+–\s+✗ ratio < 0.70, p99 ≥ 25 ms/)
    // Right-aligned numbers end in the same column.
    expect(lines[2]!.indexOf('1,000') + '1,000'.length).toBe(lines[3]!.indexOf('12,346') + '12,346'.length)
  })

  it('writes the same table as Markdown', () => {
    const md = markdownTable([row({ ratio: 0.9 })]).split('\n')
    expect(md[0]).toBe('| target | scenario | req/s | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | ratio to ceiling | server CPU µs/req | CPU ratio | target met |')
    expect(md[1]).toBe('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
    expect(md[2]).toBe('| service | get | 1,000 | 1 | 3 | 4.50 | 0 | 0 | 0.90 | – | – | ✓ ≥ 0.85 |')
  })

  it('draws bars in eighths of a cell, the ceiling being the full width', () => {
    expect(bar(1, 1, 4)).toBe('████')
    expect(bar(0.5, 1, 4)).toBe('██')
    expect(bar(1 / 16, 1, 4)).toBe('▎')
    expect(bar(2, 1, 4)).toBe('████')
    expect(bar(0, 1, 4)).toBe('')
    const chart = barChart([row({ ratio: 0.5 }), row({ target: 'json-server', ratio: 0.1 })], 10).split('\n')
    expect(chart[1]).toBe('service get     │█████     │ 0.50  (target 0.85)')
    expect(chart[2]).toBe('json-server get │█         │ 0.10')
    expect(barChart([row({})])).toBe('')
  })

  it('reports a soak as RSS and store size at start and end', () => {
    const text = soakText({ seconds: 60, rssStartMiB: 100, rssEndMiB: 104.5, rssSamples: [[0, 100], [60, 104.5]], storeStart: 10_000, storeEnd: 10_020 })
    expect(text).toContain('RSS 100.0 → 104.5 MiB (+4.5), store 10,000 → 10,020 chats')
    expect(text.split('\n')).toHaveLength(3)
  })

  it('puts the command, the machine, the table, the chart and the notes in the Markdown report', () => {
    const md = markdownReport({
      startedAt: '2026-11-26T17:00:00.000Z',
      command: 'npm run load -- --duration 5',
      machine: '2 cores, Node v20.20.2',
      options: {},
      notes: ['a note'],
      rows: [row({ ratio: 0.9 })],
      ceilingRuns: [{ scenario: 'get', rps: 1000, cpuUsPerRequest: 17 }, { scenario: 'create', rps: 1200 }]
    })
    expect(md).toContain('`npm run load -- --duration 5` on 2 cores, Node v20.20.2')
    expect(md).toContain('| service | get | 1,000 |')
    expect(md).toContain('service get │')
    expect(md).toContain('The ceiling next to each scenario, in req/s: get 1,000 (17 µs CPU/req); create 1,200.')
    expect(md).toContain('- a note')
  })
})

describe('load runner: auth modes side by side', () => {
  it('compares each mode\'s rows with the first mode\'s, by scenario, in req/s and CPU per request', () => {
    const rows = [
      row({ auth: 'none', rps: 10_000, cpuUsPerRequest: 50 }),
      row({ auth: 'jwt', rps: 9_500, cpuUsPerRequest: 52 }),
      row({ auth: 'api-key', rps: 8_000, cpuUsPerRequest: 60 }),
      row({ auth: 'none', scenario: 'create', rps: 5_000 }),
      row({ auth: 'jwt', scenario: 'create', rps: 4_600 }),
      row({ target: 'json-server', rps: 100 })
    ]
    const lines = authComparison(rows).split('\n')
    expect(lines[0]).toMatch(/^auth\s+scenario\s+req\/s\s+ratio to none\s+server CPU µs\/req\s+CPU ratio to none\s+target met$/)
    expect(lines[2]).toMatch(/^jwt\s+get\s+9,500\s+0.95\s+52\s+0.96\s+✓ ≥ 0.90$/)
    expect(lines[3]).toMatch(/^api-key\s+get\s+8,000\s+0.80\s+60\s+0.83\s+✗ < 0.90$/)
    expect(lines[4]).toMatch(/^jwt\s+create\s+4,600\s+0.92\s+–\s+–\s+✓ ≥ 0.90$/)
    expect(lines).toHaveLength(5)
    // The main table names each service row's mode; one mode alone gives no comparison.
    expect(formatTable(rows)).toContain('service api-key')
    expect(authComparison([row({})])).toBe('')
    expect(markdownReport({ startedAt: 'x', command: 'c', machine: 'm', options: {}, notes: [], rows, ceilingRuns: [] })).toContain('Each auth mode against the first (target 0.90)')
  })

  it('makes each mode\'s settings and the header its requests carry', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'load-auth-'))
    try {
      expect(authSetup('none', dir)).toEqual({ mode: 'none', env: { AUTH_MODE: 'none' }, headers: {} })
      const jwt = authSetup('jwt', dir)
      expect(jwt.env.AUTH_MODE).toBe('jwt')
      expect(jwt.env.JWT_SECRET!.length).toBeGreaterThanOrEqual(32)
      expect(jwt.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
      const key = authSetup('api-key', dir)
      expect(key.env).toMatchObject({ AUTH_MODE: 'api-key', API_KEYS_FILE: path.join(dir, 'api-keys.txt') })
      expect(readFileSync(key.env.API_KEYS_FILE!, 'utf8')).toContain(createHash('sha256').update(key.headers['x-api-key']!).digest('hex'))
      expect(autocannonOptions('http://x', 't', [], { duration: 1, connections: 1, headers: key.headers }).headers).toEqual(key.headers)
      expect(autocannonOptions('http://x', 't', [], { duration: 1, connections: 1 })).not.toHaveProperty('headers')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('seeds and runs get and create against a jwt service and an api-key one, every request carrying its credentials', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'load-auth-'))
    const apps: FastifyInstance[] = []
    try {
      for (const mode of ['jwt', 'api-key'] as const) {
        const auth = authSetup(mode, dir)
        const { AUTH_MODE, JWT_SECRET, API_KEYS_FILE } = loadConfig(auth.env)
        const a = await build({ AUTH_MODE, JWT_SECRET, API_KEYS_FILE })
        apps.push(a)
        await a.listen({ port: 0, host: '127.0.0.1' })
        const url = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`
        // Without the credentials the service refuses; the seed and the scenarios send them.
        await expect(seed(url, 3, 1, false)).rejects.toThrow(/seeding made 0 of 3/)
        const chats = await seed(url, 10, 2, false, auth.headers)
        expect(await storeSize(url, auth.headers)).toBe(10)
        const pools: Pools = { seedIds: chats.map((c) => c.id), created: [], dry: 0 }
        const context = { dialect: 'service' as const, pools, filteredList: false }
        const run = async (name: ScenarioName): Promise<Record<string, number>> =>
          summarize(await measure(autocannonOptions(url, `${mode} ${name}`, scenarioRequests(name, context), { amount: 20, connections: 2, headers: auth.headers }), false)).statusCodes
        expect(await run('get')).toEqual({ 200: 20 })
        expect(await run('create')).toEqual({ 201: 20 })
        expect(await run('mixed')).toSatisfy((codes: Record<string, number>) => Object.keys(codes).every((c) => c.startsWith('2')))
      }
    } finally {
      for (const a of apps) await a.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('load runner: benchmark reports', () => {
  it('saves what a benchmark printed with its command, settings and machine', () => {
    const run = { name: 'durability', startedAt: '2026-12-06T22:00:00.000Z', command: 'npm run load -- durability throughput', env: { BENCH_ROUNDS: '3' }, machine: '2 cores, Node v20.20.2', output: '| store | req/s |\n|---|---|\n| memory | 100 |\n', exitCode: 0 }
    const md = benchmarkReport(run)
    expect(md).toBe('# durability benchmark\n\nRun 2026-12-06T22:00:00.000Z with `BENCH_ROUNDS=3 npm run load -- durability throughput` on 2 cores, Node v20.20.2.\n\n| store | req/s |\n|---|---|\n| memory | 100 |\n')
    expect(benchmarkReport({ ...run, exitCode: 1 })).toContain('It exited with code 1: the figures below are incomplete.')
  })
})

describe('load runner: servers as deployed', () => {
  it('names the environment the image sets in its ENV, and lets the shell turn huge pages off', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')
    // The runtime stage's instructions, continuation lines joined, comments dropped.
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')).split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n').replace(/\\\n/g, ' ')
    const env = runtime.split('\n').filter((line) => line.startsWith('ENV ')).join(' ')
    for (const [key, value] of Object.entries(DEPLOYED_ENV)) expect(env.split(/\s+/)).toContain(`${key}=${value}`)

    const shell = process.env.GLIBC_TUNABLES
    try {
      delete process.env.GLIBC_TUNABLES
      expect(deployedEnv()).toEqual(DEPLOYED_ENV)
      process.env.GLIBC_TUNABLES = ''
      expect(deployedEnv()).toEqual({ ...DEPLOYED_ENV, GLIBC_TUNABLES: '' })
    } finally {
      if (shell === undefined) delete process.env.GLIBC_TUNABLES
      else process.env.GLIBC_TUNABLES = shell
    }
  })
})

describe('load runner: scenarios', () => {
  it('asks for the filtered page in each dialect, or a plain page', () => {
    expect(listPath('service', true)).toBe('/chats?priority=high&isActive=true&sort=-createdAt&limit=20')
    expect(listPath('service', false)).toBe('/chats?limit=20&offset=100')
    expect(listPath('json-server', true)).toBe('/chats?priority=high&isActive=true&_sort=createdAt&_order=desc&_limit=20')
  })

  it('reads a created id from Location, or from the body when there is none', () => {
    expect(createdId('', { location: '/chats/abc' })).toBe('abc')
    expect(createdId('{"id":"xyz"}', {})).toBe('xyz')
    expect(createdId('{"id":7}', {})).toBe('7')
    expect(createdId('not json', {})).toBeUndefined()
  })

  it('makes valid, varied chats', () => {
    const inputs = Array.from({ length: 12 }, (_, n) => chatInput(n))
    expect(new Set(inputs.map((c) => c.priority))).toEqual(new Set(['low', 'medium', 'high']))
    expect(new Set(inputs.map((c) => c.isActive))).toEqual(new Set([true, false]))
    for (const c of inputs) expect(c.title.length).toBeLessThanOrEqual(200)
  })

  it('deletes what creates made, and counts a delete with nothing left', () => {
    const pools: Pools = { seedIds: ['s1'], created: ['c1', 'c2'], dry: 0 }
    const [del] = scenarioRequests('delete', { dialect: 'service', pools, filteredList: false })
    const setup = del!.setupRequest as (r: object) => { path: string }
    expect([setup({}).path, setup({}).path, setup({}).path]).toEqual(['/chats/c2', '/chats/c1', '/chats/pool-ran-dry'])
    expect(pools.dry).toBe(1)
  })

  it('mixes 80% reads with 20% writes, deletes only taking chats made for them', () => {
    // A few made beforehand, as the runner does: without them two deletes among the first ten requests (a few runs in a hundred) find none.
    const pools: Pools = { seedIds: ['s1', 's2'], created: Array.from({ length: 20 }, (_, i) => `p${i}`), dry: 0 }
    const [mixed] = scenarioRequests('mixed', { dialect: 'service', pools, filteredList: false })
    const setup = mixed!.setupRequest as (r: object) => { method: string, path: string }
    const counts: Record<string, number> = {}
    for (let i = 0; i < 20_000; i++) {
      if (i % 10 === 0) pools.created.push(`c${i}`)
      const req = setup({})
      counts[req.method] = (counts[req.method] ?? 0) + 1
    }
    const share = (m: string): number => (counts[m] ?? 0) / 20_000
    expect(share('GET')).toBeGreaterThan(0.77)
    expect(share('GET')).toBeLessThan(0.83)
    expect(share('PATCH') + share('PUT') + share('POST') + share('DELETE')).toBeCloseTo(1 - share('GET'), 5)
    expect(share('DELETE')).toBeGreaterThan(0)
    expect(pools.dry).toBe(0)
  })

  it('reads instead of deleting in the mixed workload when no chat is left to delete', () => {
    const pools: Pools = { seedIds: ['s1'], created: [], dry: 0 }
    const [mixed] = scenarioRequests('mixed', { dialect: 'service', pools, filteredList: false })
    const setup = mixed!.setupRequest as (r: object) => { method: string }
    const methods = new Set(Array.from({ length: 2000 }, () => setup({}).method))
    expect(methods.has('DELETE')).toBe(false)
    expect(pools.dry).toBeGreaterThan(0)
  })
})

describe('load runner: profile summary', () => {
  it('sums self time by function and by area', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3] },
        { id: 2, callFrame: { functionName: 'send', url: 'file:///app/node_modules/fastify/lib/reply.js', lineNumber: 9 } },
        { id: 3, callFrame: { functionName: 'toChat', url: 'file:///app/dist/store/memory/memory-store.js', lineNumber: 13 } }
      ],
      samples: [2, 3, 2, 2],
      timeDeltas: [1000, 1000, 1000, 1000]
    }
    const summary = summarizeProfile(profile)
    expect(summary.totalMs).toBe(4)
    expect(summary.areas).toEqual([{ name: 'fastify', ms: 3, share: 0.75 }, { name: 'dist/store/memory/memory-store.js', ms: 1, share: 0.25 }])
    expect(summary.functions[0]).toEqual({ name: 'send node_modules/fastify/lib/reply.js:10', ms: 3, share: 0.75 })
    expect(areaOf('node:internal/http', 'x')).toBe('node internals')
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)')
    expect(areaOf('file:///x/node_modules/@fastify/swagger/index.js', 'f')).toBe('@fastify/swagger')
  })
})

describe('load runner: processes', () => {
  it('finds a free port and reads its own RSS and CPU time from /proc', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThan(0)
    expect(rssMiBOf(process.pid)).toBeGreaterThan(1)
    expect(cpuSecondsOf(process.pid)).toBeGreaterThan(0)
    expect(rssMiBOf(-1)).toBeUndefined()
    expect(cpuSecondsOf(-1)).toBeUndefined()
  })
})

/** A very short real run: the service on a socket, seeded over HTTP, one scenario, the ceiling. No timings checked. */
describe('load runner: smoke run', () => {
  let app: FastifyInstance
  let url: string
  let chats: Chat[]

  beforeAll(async () => {
    app = await build()
    await app.listen({ port: 0, host: '127.0.0.1' })
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    chats = await seed(url, 40, 5, false)
  })
  afterAll(async () => { await app.close() })

  it('seeds the chats it was asked for', async () => {
    expect(chats).toHaveLength(40)
    expect(new Set(chats.map((c) => c.id)).size).toBe(40)
    expect(await storeSize(url)).toBe(40)
  })

  it('runs get by id with no error and no non-2xx', async () => {
    const pools: Pools = { seedIds: chats.map((c) => c.id), created: [], dry: 0 }
    const result = await measure(autocannonOptions(url, 'smoke get', scenarioRequests('get', { dialect: 'service', pools, filteredList: false }), { duration: 1, connections: 4 }), false)
    const summary = summarize(result)
    expect(summary.requests).toBeGreaterThan(0)
    expect(summary.errors).toBe(0)
    expect(summary.non2xx).toBe(0)
    expect(Object.keys(summary.statusCodes)).toEqual(['200'])
  })

  it('combines runs made in slices into one figure', async () => {
    const pools: Pools = { seedIds: chats.map((c) => c.id), created: [], dry: 0 }
    const options = { ...autocannonOptions(url, 'smoke slice', scenarioRequests('get', { dialect: 'service', pools, filteredList: false }), { amount: 20, connections: 2 }), skipAggregateResult: true }
    const parts = [{ result: await measure(options, false), cpuSeconds: 0.01 }, { result: await measure(options, false), cpuSeconds: 0.03 }]
    const { summary } = combineParts(parts, { url, connections: 2 })
    expect(summary.requests).toBe(40)
    expect(summary.statusCodes).toEqual({ 200: 40 })
    expect(summary.seconds).toBeCloseTo(parts[0]!.result.duration + parts[1]!.result.duration, 5)
    expect(summary.cpuUsPerRequest).toBeCloseTo(1000, 5)
  })

  it('creates, then deletes exactly what it created', async () => {
    const pools: Pools = { seedIds: chats.map((c) => c.id), created: [], dry: 0 }
    const measured = summarize(await measure(autocannonOptions(url, 'smoke create', scenarioRequests('create', { dialect: 'service', pools, filteredList: false }), { amount: 10, connections: 2 }), false))
    expect(measured.statusCodes).toEqual({ 201: 10 })
    expect(pools.created).toHaveLength(10)
    const created = summarize(await measure(autocannonOptions(url, 'smoke fill', fillRequests(pools), { amount: 30, connections: 3 }), false))
    expect(created.statusCodes).toEqual({ 201: 30 })
    expect(pools.created).toHaveLength(40)
    const deleted = summarize(await measure(autocannonOptions(url, 'smoke delete', scenarioRequests('delete', { dialect: 'service', pools, filteredList: false }), { amount: 40, connections: 3 }), false))
    expect(deleted.statusCodes).toEqual({ 204: 40 })
    expect(pools.dry).toBe(0)
    expect(await storeSize(url)).toBe(40)
  })

  it('tells whether the list takes a query: 200 yes, 400 no', async () => {
    expect(await supportsFilteredList(url, '/chats?limit=5')).toBe(true)
    expect(await supportsFilteredList(url, '/chats?no-such-parameter=1')).toBe(false)
  })

  it('answers every scenario from the floor as the service does, through the same schemas', async () => {
    const floor = await startFloor(chats, 0)
    try {
      const res = await fetch(`${floor.url}/chats/${chats[0]!.id}`)
      expect(await res.json()).toEqual(chats[0])
      // The list page: the same filters and order as the service's, and a 400 for what the query schema refuses.
      const path = listPath('service', true)
      const [ours, theirs] = await Promise.all([fetch(`${url}${path}`), fetch(`${floor.url}${path}`)])
      const [page, floorPage] = await Promise.all([ours.json(), theirs.json()]) as [{ items: Chat[], total: number }, { items: Chat[], total: number }]
      expect(floorPage.items.map((c) => c.id)).toEqual(page.items.map((c) => c.id))
      expect(floorPage.total).toBe(page.total)
      expect((await fetch(`${floor.url}/chats?sort=color`)).status).toBe(400)
      const context = { dialect: 'service' as const, pools: { seedIds: chats.map((c) => c.id), created: [], dry: 0 }, filteredList: false }
      const run = async (name: ScenarioName, amount: number): Promise<Record<string, number>> =>
        summarize(await measure(autocannonOptions(floor.url, `floor ${name}`, scenarioRequests(name, context), { amount, connections: 2 }), false)).statusCodes
      expect(await run('create', 10)).toEqual({ 201: 10 })
      expect(context.pools.created).toHaveLength(10)
      expect(await run('patch', 10)).toEqual({ 200: 10 })
      expect(await run('replace', 10)).toEqual({ 200: 10 })
      expect(await run('delete', 10)).toEqual({ 204: 10 })
      expect(await run('get', 10)).toEqual({ 200: 10 })
      const mixed = await run('mixed', 40)
      expect(Object.keys(mixed).every((status) => status.startsWith('2'))).toBe(true)
      expect(Object.values(mixed).reduce((a, b) => a + b, 0)).toBe(40)
      // The schemas hold: a body the service refuses is a 400 here too, and a chat gone is a 404.
      const bad = await fetch(`${floor.url}/chats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title":"x","extra":1}' })
      expect(bad.status).toBe(400)
      expect((await fetch(`${floor.url}/chats/unknown`, { method: 'DELETE' })).status).toBe(404)
      const before = await (await fetch(`${floor.url}/chats/${chats[1]!.id}`)).json() as Chat
      const patched = await fetch(`${floor.url}/chats/${chats[1]!.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"priority":"high"}' })
      expect(await patched.json()).toEqual({ ...before, priority: 'high', updatedAt: expect.any(String) as string, version: before.version + 1 })
    } finally {
      await floor.close()
    }
  })

  it('serves the same chats from the ceiling, through the same schema', async () => {
    const ceiling = await startCeiling(chats, 0)
    try {
      const res = await fetch(`${ceiling.url}/chats/${chats[0]!.id}`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual(chats[0])
      expect((await fetch(`${ceiling.url}/chats/unknown`)).status).toBe(404)
      const result = summarize(await measure(autocannonOptions(ceiling.url, 'smoke ceiling', ceilingRequests(chats.map((c) => c.id)), { duration: 1, connections: 2 }), false))
      expect(result.non2xx).toBe(0)
      expect(result.requests).toBeGreaterThan(0)
    } finally {
      await ceiling.close()
    }
  })
})
