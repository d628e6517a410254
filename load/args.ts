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
  help: boolean
}

export const USAGE = `npm run load -- [options]

  --duration <s>       seconds per measured run (default 10)
  --connections <n>    concurrent connections (default 50)
  --scenarios <list>   comma list of ${SCENARIOS.join(', ')}, or all (default all;
                       none when --soak is given alone)
  --peers              also run json-server 0.17 through the same scenarios
  --floor              also run bare Fastify with a Map and the same schemas (load/floor.ts)
                       through the same scenarios: what Fastify itself reaches
  --soak <s>           run the mixed workload for s seconds, sampling the service's RSS
  --warmup <s>         unrecorded load on each server first (default 3)
  --seed <n>           chats created before measuring (default 10000)
  --profile            run the service under --cpu-prof and print where its time goes
  --env KEY=VALUE      extra environment for the service, repeatable (experiments only)
  --help`

function positiveNumber (name: string, raw: string | undefined, fallback: number, { integer = false, zero = false } = {}): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  const ok = Number.isFinite(value) && (zero ? value >= 0 : value > 0) && (!integer || Number.isInteger(value))
  if (!ok) throw new Error(`--${name} must be a ${integer ? 'whole ' : ''}number ${zero ? '≥ 0' : '> 0'}, got "${raw}"`)
  return value
}

function scenarioList (raw: string | undefined, soak: number): ScenarioName[] {
  if (raw === undefined) return soak > 0 ? [] : [...SCENARIOS]
  if (raw === 'all') return [...SCENARIOS]
  if (raw === 'none') return []
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}: choose from ${SCENARIOS.join(', ')}`)
  // Run order is fixed (see SCENARIOS), whatever order they were named in.
  return SCENARIOS.filter((s) => names.includes(s))
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

/** The runner's command line. Throws an Error with a message meant for a person on anything it cannot use. */
export function parseLoadArgs (argv: string[]): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
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
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  const soak = positiveNumber('soak', values.soak, 0, { zero: true })
  return {
    duration: positiveNumber('duration', values.duration, 10),
    connections: positiveNumber('connections', values.connections, 50, { integer: true }),
    scenarios: scenarioList(values.scenarios, soak),
    peers: values.peers,
    floor: values.floor,
    soak,
    warmup: positiveNumber('warmup', values.warmup, 3, { zero: true }),
    seed: positiveNumber('seed', values.seed, 10_000, { integer: true }),
    profile: values.profile,
    env: envPairs(values.env),
    help: values.help
  }
}
