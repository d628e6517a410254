import { parseArgs } from 'node:util'

/**
 * In run order: get, list, patch and replace run over the seeded 10,000 chats. Create leaves its
 * chats (150,000 or more) for delete, which tops them up to what it needs and takes them away, so
 * mixed runs over about the seeded store again. After create, a patch or replace cost both the
 * service and the floor nearly twice as much (a heap fifteen times bigger to collect, bigger
 * indexes), a store the scenarios are not about.
 */
export const SCENARIOS = ['get', 'list', 'patch', 'replace', 'create', 'delete', 'mixed'] as const
export type ScenarioName = typeof SCENARIOS[number]

/**
 * The benchmarks the tool also runs (`npm run load -- <benchmark> [arguments]`), each its own
 * script in a child process with the Node flags it needs; the arguments after the name go to it.
 */
export const BENCHMARKS = {
  durability: {
    file: 'durability-bench.ts',
    nodeArgs: [],
    usage: '[throughput|recovery|append]',
    about: 'write throughput of FSYNC=everysec and always against memory (POST /chats over HTTP), recovery of 1M chats, the cost of logging a change; env BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_CHATS, BENCH_TEXTS=long, BENCH_SOURCES, BENCH_BASELINE. Alias: npm run bench:durability'
  },
  feed: {
    file: 'feed-bench.ts',
    nodeArgs: [],
    usage: '[throughput|fanout]',
    about: 'writes with the change feed and history on against off (target 0.90), and 1,000 open event streams while 1,000 creates a second go in: p99 from a write\'s answer, and from its send, to its event (target 50 ms); env BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_SEED, BENCH_BASELINE, BENCH_STREAMS, BENCH_RATE, BENCH_SAMPLED'
  },
  query: {
    file: 'query-bench.ts',
    nodeArgs: ['--expose-gc', '--max-old-space-size=6144'],
    usage: '[--sizes=10000,100000,1000000]',
    about: 'the list queries of docs/performance.md timed in process at each size, and the bytes a chat costs with its indexes. Alias: npm run bench:query'
  },
  restore: {
    file: 'restore-bench.ts',
    nodeArgs: [],
    usage: '[chats] [short|long] [image [K]]',
    about: 'rebuilding the indexes of N chats at recovery; image: from saved indexes, with a log of K creates and K updates merged in'
  },
  index: {
    file: 'index-bench.ts',
    nodeArgs: [],
    usage: '',
    about: 'one insert into an ordered index of 1M entries: a flat sorted array against chunks of 256, 1,024 and 4,096'
  },
  redis: {
    file: 'redis-bench.ts',
    nodeArgs: [],
    usage: '[throughput] [growth] [memory] [failover]',
    about: 'the Redis backend on a private redis-server: GET, create, patch and a filtered page with q for memory, redis with one process and with two (the load split), side by side; the filtered page as an owner\'s chats and other owners grow; used_memory per chat over 1M chats in 1,000 owners; failover (only when named): acknowledged creates lost when a cluster primary is killed, with and without REDIS_WAIT_REPLICAS=1; env BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_LIST_CONNECTIONS, BENCH_MEMORY_CHATS'
  },
  compare: {
    file: 'compare.ts',
    nodeArgs: [],
    usage: '<dirA> <dirB> [<dirC> …] [scenarios] [rounds] [requests]',
    about: 'builds side by side (each dir holds a built dist/server.js), the same requests in turn, server CPU µs/request; NODE_ARGS_A, NODE_ARGS_B … add Node flags to one build'
  }
} as const satisfies Record<string, { file: string, nodeArgs: readonly string[], usage: string, about: string }>
export type BenchmarkName = keyof typeof BENCHMARKS

/** How the service is started and asked: AUTH_MODE=none, jwt (an HS256 token on every request) or api-key (an X-API-Key). */
export const AUTH_MODES = ['none', 'jwt', 'api-key'] as const
export type LoadAuthMode = typeof AUTH_MODES[number]

/** What each load-test scenario sends, for --help. */
const SCENARIO_REQUESTS: Record<ScenarioName, string> = {
  get: 'GET /chats/{id}, a random seeded chat',
  list: 'GET /chats?priority=high&isActive=true&sort=-createdAt&limit=20',
  patch: 'PATCH /chats/{id}, one or two fields, a random seeded chat',
  replace: 'PUT /chats/{id}, a random seeded chat',
  create: 'POST /chats, varied bodies',
  delete: 'DELETE /chats/{id} of chats made for it beforehand',
  mixed: '80% reads (70 get, 10 list), 20% writes (10 patch, 4 replace, 3 create, 3 delete)'
}

export interface LoadOptions {
  /** Seconds each measured run lasts. */
  duration: number
  connections: number
  scenarios: ScenarioName[]
  /** Also measure json-server 0.17 through the same scenarios. */
  peers: boolean
  /** Also measure the floor (`floor.ts`: bare Fastify, a Map, the same schemas) through the same scenarios. */
  floor: boolean
  /** Seconds of the mixed workload with RSS sampled; 0 for none. */
  soak: number
  /** Seconds of unrecorded load on each server before the first measurement. */
  warmup: number
  /** Chats created over HTTP before anything is measured. */
  seed: number
  /** Start the service with --cpu-prof and summarize the profile at the end. */
  profile: boolean
  /** Extra environment for the service (experiments: LOG_LEVEL=warn, …); empty for the standard run. */
  env: Record<string, string>
  /** One service per mode, each through the same scenarios, side by side (the first is the one the others are compared with). */
  auth: LoadAuthMode[]
  help: boolean
}

const column = (name: string, width: number): string => name.padEnd(width)

/** `text` in lines of at most `width` characters, each after `indent`. */
function wrap (text: string, indent: string, width = 96): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(indent + line)
  return lines.join('\n')
}

export const USAGE = `npm run load -- [scenario …] [options]    the HTTP load test (builds the service first)
npm run load -- <benchmark> [arguments]    one of the benchmarks listed last

Load-test scenarios (default: all, in this order; each runs in 2-s slices, each slice
right after one of the ceiling, bare Fastify answering GET by id: load/ceiling.ts):
${SCENARIOS.map((s) => `  ${column(s, 10)} ${SCENARIO_REQUESTS[s]}`).join('\n')}

Options:
  --duration <s>       seconds per measured run (default 10)
  --connections <n>    concurrent connections (default 50)
  --scenarios <list>   comma list of scenarios, or all, or none (the same as naming them before the
                       options; default all, none when --soak is given alone)
  --peers              also run json-server 0.17 through the same scenarios
  --floor              also run bare Fastify with a Map and the same schemas (load/floor.ts)
                       through the same scenarios: what Fastify itself reaches
  --soak <s>           run the mixed workload for s seconds, sampling the service's RSS
  --warmup <s>         unrecorded load on each server first (default 3)
  --seed <n>           chats created before measuring (default 10000)
  --profile            run the service under --cpu-prof and print where its time goes
  --env KEY=VALUE      extra environment for the service, repeatable (experiments only)
  --auth <list>        comma list of none, jwt, api-key (default none): one service per mode, each
                       sent the mode's credentials on every request (jwt: an HS256 token; api-key:
                       X-API-Key), side by side in the table and compared with the first
  --help

It prints a progress bar (on a terminal), a table and a chart of the ratios to the ceiling, and
writes them to load/results/<time>.md (with the raw figures in .json; latest.md is the last run).

Benchmarks (each prints its tables and saves them in load/results/<time>-<benchmark>.md):
${Object.entries(BENCHMARKS).map(([name, b]) => `  ${`${name} ${b.usage}`.trimEnd()}\n${wrap(b.about, '      ')}`).join('\n')}`

function positiveNumber (name: string, raw: string | undefined, fallback: number, { integer = false, zero = false } = {}): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  const ok = Number.isFinite(value) && (zero ? value >= 0 : value > 0) && (!integer || Number.isInteger(value))
  if (!ok) throw new Error(`--${name} must be a ${integer ? 'whole ' : ''}number ${zero ? '≥ 0' : '> 0'}, got "${raw}"`)
  return value
}

function isBenchmark (name: string | undefined): name is BenchmarkName {
  return name !== undefined && Object.hasOwn(BENCHMARKS, name)
}

function scenarioList (raw: string | undefined, soak: number): ScenarioName[] {
  if (raw === undefined) return soak > 0 ? [] : [...SCENARIOS]
  if (raw === 'all') return [...SCENARIOS]
  if (raw === 'none') return []
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean)
  const benchmark = names.find(isBenchmark)
  if (benchmark !== undefined) throw new Error(`${benchmark} is a benchmark, not a load-test scenario: run it alone, first (npm run load -- ${benchmark} ${BENCHMARKS[benchmark].usage})`.trimEnd())
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}: choose from ${SCENARIOS.join(', ')}, or a benchmark first (${Object.keys(BENCHMARKS).join(', ')})`)
  // Run order is fixed (see SCENARIOS), whatever order they were named in.
  return SCENARIOS.filter((s) => names.includes(s))
}

function authModes (raw: string | undefined): LoadAuthMode[] {
  if (raw === undefined) return ['none']
  const names = [...new Set(raw.split(',').map((s) => s.trim()).filter(Boolean))]
  const unknown = names.filter((n) => !(AUTH_MODES as readonly string[]).includes(n))
  if (unknown.length > 0 || names.length === 0) throw new Error(`--auth takes a comma list of ${AUTH_MODES.join(', ')}, got "${raw}"`)
  return names as LoadAuthMode[]
}

function envPairs (pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at < 1) throw new Error(`--env takes KEY=VALUE, got "${pair}"`)
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return env
}

/**
 * The load test's command line: scenarios named before the options or with --scenarios (not
 * both), then the options. Throws an Error with a message meant for a person on anything it cannot use.
 */
export function parseLoadArgs (argv: string[]): LoadOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      scenarios: { type: 'string' },
      peers: { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
      soak: { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      profile: { type: 'boolean', default: false },
      env: { type: 'string', multiple: true, default: [] },
      auth: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (positionals.length > 0 && values.scenarios !== undefined) throw new Error('name the scenarios either before the options or with --scenarios, not both')
  const soak = positiveNumber('soak', values.soak, 0, { zero: true })
  return {
    duration: positiveNumber('duration', values.duration, 10),
    connections: positiveNumber('connections', values.connections, 50, { integer: true }),
    scenarios: scenarioList(positionals.length > 0 ? positionals.join(',') : values.scenarios, soak),
    peers: values.peers,
    floor: values.floor,
    soak,
    warmup: positiveNumber('warmup', values.warmup, 3, { zero: true }),
    seed: positiveNumber('seed', values.seed, 10_000, { integer: true }),
    profile: values.profile,
    env: envPairs(values.env),
    auth: authModes(values.auth),
    help: values.help
  }
}

/** What `npm run load -- …` asks for: the load test with its options, or one benchmark with the arguments after its name. */
export type Command =
  | { kind: 'load', options: LoadOptions }
  | { kind: 'benchmark', name: BenchmarkName, args: string[], help: boolean }

export function parseCommand (argv: string[]): Command {
  const [first, ...rest] = argv
  if (isBenchmark(first)) return { kind: 'benchmark', name: first, args: rest, help: rest.includes('--help') || rest.includes('-h') }
  return { kind: 'load', options: parseLoadArgs(argv) }
}

/** The Node arguments that run a benchmark's script from the repository's root, with `args` after it. */
export function benchmarkNodeArgs (name: BenchmarkName, args: readonly string[]): string[] {
  const benchmark = BENCHMARKS[name]
  return [...benchmark.nodeArgs, '--import', 'tsx', `load/${benchmark.file}`, ...args]
}
