import type { Result } from 'autocannon'
import type { ScenarioName } from './args.js'

/** What the table shows of one autocannon run. Latencies in milliseconds. */
export interface Summary {
  requests: number
  seconds: number
  rps: number
  p50: number
  p975: number
  p99: number
  /** Connection errors and timeouts. */
  errors: number
  non2xx: number
  statusCodes: Record<string, number>
  /** The server process's CPU time per answered request, in microseconds: steadier than req/s on a shared machine. */
  cpuUsPerRequest?: number
}

export interface Row extends Summary {
  target: string
  /** The service's AUTH_MODE in a run of several (`--auth`). */
  auth?: string
  scenario: ScenarioName | 'ceiling' | 'soak'
  /** This run's throughput over the ceiling's, measured next to it. */
  ratio?: number
  ceilingRps?: number
  /** The ceiling's CPU per request over this run's: steadier than the throughput ratio when other work shares the machine. */
  cpuRatio?: number
  note?: string
}

/** Ratio targets for the service, at 50 connections. */
export const TARGETS: Record<ScenarioName, number> = {
  get: 0.85,
  create: 0.70,
  patch: 0.70,
  replace: 0.70,
  delete: 0.70,
  list: 0.60,
  mixed: 0.70
}
export const P99_TARGET_MS = 25

/** The middle value (the mean of the two middle ones for an even count). */
export function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function summarize (result: Result): Summary {
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count ?? 0
  const requests = result.requests.total
  const seconds = result.duration
  return {
    requests,
    seconds,
    rps: seconds > 0 ? requests / seconds : 0,
    p50: result.latency.p50,
    p975: result.latency.p97_5,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    statusCodes
  }
}

/** The ceiling's CPU per request over a run's; undefined when either is unknown. */
export function cpuRatio (cpuUsPerRequest: number | undefined, ceilingCpuUsPerRequest: number | undefined): number | undefined {
  if (cpuUsPerRequest === undefined || ceilingCpuUsPerRequest === undefined || !(cpuUsPerRequest > 0)) return undefined
  return ceilingCpuUsPerRequest / cpuUsPerRequest
}

/** A run's throughput against the mean of the ceiling runs next to it (one or two of them). */
export function ratioToCeiling (rps: number, ...ceilings: (number | undefined)[]): { ratio: number, ceilingRps: number } | undefined {
  const known = ceilings.filter((c): c is number => c !== undefined && c > 0)
  if (known.length === 0) return undefined
  const ceilingRps = known.reduce((a, b) => a + b, 0) / known.length
  return { ratio: rps / ceilingRps, ceilingRps }
}

/** Whether a service row meets its targets; undefined for rows without targets (peers, ceiling). */
export function verdict (row: Row): { ok: boolean, misses: string[] } | undefined {
  if (row.target !== 'service' || row.scenario === 'ceiling' || row.scenario === 'soak') return undefined
  const misses: string[] = []
  const target = TARGETS[row.scenario]
  if (row.ratio === undefined || row.ratio < target) misses.push(`ratio < ${target.toFixed(2)}`)
  if (row.p99 >= P99_TARGET_MS) misses.push(`p99 ≥ ${P99_TARGET_MS} ms`)
  if (row.errors > 0) misses.push('errors')
  if (row.non2xx > 0) misses.push('non-2xx')
  return { ok: misses.length === 0, misses }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1)
/** Two decimals, more for the small ratios of slow peers. */
const ratioDigits = (r: number): string => r.toFixed(r >= 0.1 ? 2 : r >= 0.01 ? 3 : 4)
const ratioText = (row: Row): string => row.ratio === undefined ? '–' : ratioDigits(row.ratio)
function verdictText (row: Row): string {
  const v = verdict(row)
  if (v === undefined) return row.scenario === 'ceiling' || row.scenario === 'soak' ? '' : 'peer'
  return v.ok ? `✓ ≥ ${TARGETS[row.scenario as ScenarioName].toFixed(2)}` : `✗ ${v.misses.join(', ')}`
}

const HEADERS = ['target', 'scenario', 'req/s', 'p50 ms', 'p97.5 ms', 'p99 ms', 'errors', 'non-2xx', 'ratio to ceiling', 'server CPU µs/req', 'CPU ratio', 'target met']

const targetText = (row: Row): string => row.auth === undefined ? row.target : `${row.target} ${row.auth}`

function cells (row: Row): string[] {
  return [targetText(row), row.scenario, int(row.rps), ms(row.p50), ms(row.p975), ms(row.p99), int(row.errors), int(row.non2xx), ratioText(row), row.cpuUsPerRequest === undefined ? '–' : row.cpuUsPerRequest.toFixed(0),
    row.cpuRatio === undefined ? '–' : ratioDigits(row.cpuRatio), verdictText(row)]
}

/** Characters a cell takes on a terminal (code points: the table holds no wide or combining ones). */
const width = (s: string): number => Array.from(s).length

/** The table for a terminal: columns padded, numbers right-aligned. */
export function formatTable (rows: Row[]): string {
  const table = [HEADERS, ...rows.map(cells)]
  const widths = HEADERS.map((_, i) => Math.max(...table.map((r) => width(r[i] ?? ''))))
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10])
  const line = (r: string[]): string => r.map((c, i) => {
    const pad = ' '.repeat(widths[i]! - width(c))
    return numeric.has(i) ? pad + c : c + pad
  }).join('  ').trimEnd()
  return [line(table[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...table.slice(1).map(line)].join('\n')
}

export function markdownTable (rows: Row[]): string {
  const esc = (s: string): string => s.replaceAll('|', '\\|')
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, i) => (i >= 2 && i <= 10 ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`)
  ].join('\n')
}

const BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']

/** A horizontal bar of `value` against `max` in `width` character cells, with eighth-cell steps. */
export function bar (value: number, max: number, width: number): string {
  if (!(max > 0) || !(value > 0)) return ''
  const eighths = Math.round(Math.min(value / max, 1) * width * 8)
  return '█'.repeat(Math.floor(eighths / 8)) + BLOCKS[eighths % 8]!
}

/** Ratio to the ceiling as bars, the ceiling being the full width; the target follows each service bar. */
export function barChart (rows: Row[], width = 40): string {
  const withRatio = rows.filter((r) => r.ratio !== undefined)
  if (withRatio.length === 0) return ''
  const labels = withRatio.map((r) => `${targetText(r)} ${r.scenario}`)
  const labelWidth = Math.max(...labels.map((l) => l.length))
  const max = Math.max(1, ...withRatio.map((r) => r.ratio!))
  const lines = withRatio.map((r, i) => {
    const b = bar(r.ratio!, max, width)
    const target = verdict(r) === undefined ? '' : `  (target ${TARGETS[r.scenario as ScenarioName].toFixed(2)})`
    return `${labels[i]!.padEnd(labelWidth)} │${b.padEnd(width)}│ ${ratioDigits(r.ratio!)}${target}`
  })
  return [`${'throughput / ceiling'.padEnd(labelWidth)}  0${' '.repeat(width - 2)}${max.toFixed(1)}`, ...lines].join('\n')
}

export interface RunReport {
  startedAt: string
  command: string
  machine: string
  options: Record<string, unknown>
  notes: string[]
  rows: Row[]
  /** The ceiling as measured next to each scenario. */
  ceilingRuns: { scenario: string, rps: number, cpuUsPerRequest?: number }[]
  soak?: SoakReport
}

export interface SoakReport {
  seconds: number
  rssStartMiB: number
  rssEndMiB: number
  /** [seconds since start, RSS MiB] */
  rssSamples: [number, number][]
  storeStart: number
  storeEnd: number
}

export function soakText (soak: SoakReport): string {
  const growth = soak.rssEndMiB - soak.rssStartMiB
  const lines = [
    `soak ${soak.seconds} s of the mixed workload: RSS ${soak.rssStartMiB.toFixed(1)} → ${soak.rssEndMiB.toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)}), store ${int(soak.storeStart)} → ${int(soak.storeEnd)} chats`
  ]
  const max = Math.max(...soak.rssSamples.map(([, v]) => v))
  for (const [t, v] of soak.rssSamples) lines.push(`  ${String(Math.round(t)).padStart(5)} s │${bar(v, max, 40).padEnd(40)}│ ${v.toFixed(1)} MiB`)
  return lines.join('\n')
}

/** An auth mode's throughput against the first mode's (`--auth`), for GET by id and the rest alike. */
export const AUTH_TARGET = 0.90

/**
 * The service's rows of each auth mode but the first, against the first mode's row of the same
 * scenario: req/s over req/s, and the first's CPU per request over this one's. Empty unless the
 * run had several modes.
 */
export function authComparison (rows: Row[]): string {
  const service = rows.filter((r) => r.target === 'service' && r.auth !== undefined)
  const base = service[0]?.auth
  if (base === undefined) return ''
  const headers = ['auth', 'scenario', 'req/s', `ratio to ${base}`, 'server CPU µs/req', `CPU ratio to ${base}`, 'target met']
  const lines: string[][] = []
  for (const row of service) {
    if (row.auth === base) continue
    const against = service.find((r) => r.auth === base && r.scenario === row.scenario)
    if (against === undefined) continue
    const ratio = against.rps > 0 ? row.rps / against.rps : 0
    const cpu = cpuRatio(row.cpuUsPerRequest, against.cpuUsPerRequest)
    lines.push([row.auth!, row.scenario, int(row.rps), ratioDigits(ratio), row.cpuUsPerRequest === undefined ? '–' : row.cpuUsPerRequest.toFixed(0),
      cpu === undefined ? '–' : ratioDigits(cpu), ratio >= AUTH_TARGET ? `✓ ≥ ${AUTH_TARGET.toFixed(2)}` : `✗ < ${AUTH_TARGET.toFixed(2)}`])
  }
  if (lines.length === 0) return ''
  const table = [headers, ...lines]
  const widths = headers.map((_, i) => Math.max(...table.map((r) => width(r[i] ?? ''))))
  const line = (r: string[]): string => r.map((c, i) => {
    const pad = ' '.repeat(widths[i]! - width(c))
    return i >= 2 && i <= 5 ? pad + c : c + pad
  }).join('  ').trimEnd()
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...lines.map(line)].join('\n')
}

/** The Markdown file: what ran, where, the table, the chart and the notes. */
export function markdownReport (report: RunReport): string {
  const parts = [
    `# Load test results`,
    '',
    `Run ${report.startedAt} with \`${report.command}\` on ${report.machine}.`,
    '',
    markdownTable(report.rows),
    '',
    'Throughput as a ratio to the bare Fastify ceiling (`load/ceiling.ts`), each measured next to it:',
    '',
    '```',
    barChart(report.rows),
    '```'
  ]
  const auth = authComparison(report.rows)
  if (auth !== '') parts.push('', `Each auth mode against the first (target ${AUTH_TARGET.toFixed(2)}):`, '', '```', auth, '```')
  if (report.ceilingRuns.length > 0) {
    const each = report.ceilingRuns.map((c) => `${c.scenario} ${int(c.rps)}${c.cpuUsPerRequest === undefined ? '' : ` (${c.cpuUsPerRequest.toFixed(0)} µs CPU/req)`}`)
    parts.push('', `The ceiling next to each scenario, in req/s: ${each.join('; ')}.`)
  }
  if (report.soak !== undefined) parts.push('', '```', soakText(report.soak), '```')
  if (report.notes.length > 0) parts.push('', ...report.notes.map((n) => `- ${n}`))
  return parts.join('\n') + '\n'
}

export interface BenchmarkRun {
  name: string
  startedAt: string
  /** The command as typed, e.g. `npm run load -- durability recovery`. */
  command: string
  /** The BENCH_* (and like) variables it ran with. */
  env: Record<string, string>
  machine: string
  /** What the benchmark printed: its tables. */
  output: string
  exitCode: number
}

/** A benchmark's Markdown file: what ran, with which settings, where, and what it printed. */
export function benchmarkReport (run: BenchmarkRun): string {
  const settings = Object.entries(run.env).map(([key, value]) => `${key}=${value} `).join('')
  return [
    `# ${run.name} benchmark`,
    '',
    `Run ${run.startedAt} with \`${settings}${run.command}\` on ${run.machine}.`,
    ...(run.exitCode === 0 ? [] : ['', `It exited with code ${run.exitCode}: the figures below are incomplete.`]),
    '',
    run.output.trim()
  ].join('\n') + '\n'
}
