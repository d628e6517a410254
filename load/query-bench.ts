/**
 * The query engine's benchmark, in process (no HTTP): fills a store with 10k, 100k and 1M chats
 * through the public `create` path, then times six list queries and measures the heap each chat
 * costs. Run: `npm run load -- query` or `npm run bench:query` (`-- --sizes=10000,100000` for fewer sizes).
 */
import { performance } from 'node:perf_hooks'
import type { ChatStore } from '../src/store/chat-store.js'
import { DEFAULT_OWNER, type ListQuery } from '../src/store/types.js'
import { ChatIndexes } from '../src/store/memory/indexes.js'
import { createMemoryStore, type MemoryStore } from '../src/store/memory/memory-store.js'
import { parseSort } from '../src/schemas/list-query.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (npm run load -- query does)')

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const SIZES = (arg('sizes') ?? '10000,100000,1000000').split(',').map(Number)
const BASE = Date.UTC(2025, 0, 1)

/** A deterministic PRNG (mulberry32), so every run and size sees the same kind of data. */
function rng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const COMMON = ['project', 'update', 'meeting', 'launch', 'review', 'customer', 'design', 'budget', 'weekly', 'sync',
  'support', 'release', 'planning', 'feedback', 'roadmap', 'hiring', 'incident', 'report', 'team', 'sprint']
const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'ze', 'po', 'da', 'fe', 'gu', 'hi', 'jo', 'bre', 'cla', 'dro', 'ste', 'qua']

/** 20 common words and 5,000 rarer made-up ones, drawn with a Zipf-like law (weight 1/(rank+5)). */
function vocabulary (random: () => number): () => string {
  const words = [...COMMON]
  while (words.length < 5020) {
    let w = ''
    const n = 2 + Math.floor(random() * 3)
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)]!
    words.push(w)
  }
  const cumulative: number[] = []
  let sum = 0
  for (let r = 0; r < words.length; r++) cumulative.push(sum += 1 / (r + 5))
  return () => {
    const x = random() * sum
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cumulative[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return words[lo]!
  }
}

function text (word: () => string, length: number, capitalize: boolean): string {
  let s = ''
  while (s.length < length) s += (s === '' ? '' : ' ') + word()
  return capitalize ? s[0]!.toUpperCase() + s.slice(1) : s
}

const PRIORITIES = ['low', 'medium', 'high'] as const

interface Filled { store: MemoryStore, fillMs: number, bytesPerChat: { total: number, base: number, indexes: number, text: number } }

function heap (): number {
  gc!()
  gc!()
  // Typed arrays keep their contents outside the V8 heap: count those too.
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

async function fill (n: number): Promise<Filled> {
  const random = rng(42)
  const word = vocabulary(random)
  const clock = { t: BASE }
  const before = heap()
  const started = performance.now()
  const store = createMemoryStore({ maxItems: n, maxBytes: 0, lockTimeoutMs: 60_000, now: () => clock.t, queryLog: planLogger })
  for (let i = 0; i < n; i++) {
    clock.t = BASE + i
    await store.create(DEFAULT_OWNER, {
      title: text(word, 36, true),
      description: text(word, 120, true) + '.',
      priority: PRIORITIES[Math.floor(random() * 3)]!,
      isActive: random() < 0.7
    })
  }
  // Some updates, so that updatedAt order differs from createdAt order.
  for (let i = 0; i < n / 100; i++) {
    clock.t = BASE + n + i
    const page = await store.list(DEFAULT_OWNER, { limit: 1, offset: Math.floor(random() * n) })
    await store.update(DEFAULT_OWNER, page.items[0]!.id, { isActive: random() < 0.7 })
  }
  const fillMs = performance.now() - started
  const total = heap() - before
  // Drop the full-text index, then every index, to see what each costs; then build them again.
  const internals = store.backend as unknown as { indexes: ChatIndexes | null }
  const chats = internals.indexes!.inIdOrder()
  ;(internals.indexes as unknown as { text: unknown }).text = null
  const withoutText = heap() - before
  internals.indexes = null
  const base = heap() - before
  const rebuilt = new ChatIndexes()
  for (const record of chats) rebuilt.add(record)
  internals.indexes = rebuilt
  return { store, fillMs, bytesPerChat: { total: total / n, base: base / n, indexes: (withoutText - base) / n, text: (total - withoutText) / n } }
}

let lastPlan = ''
const planLogger = { debug: (o: object): void => { lastPlan = (o as { plan: string }).plan } }

interface Timing { median: number, p99: number }

async function time (store: ChatStore, query: () => ListQuery, runs: number): Promise<Timing & { total: number, plan: string }> {
  for (let i = 0; i < Math.min(20, runs); i++) await store.list(DEFAULT_OWNER, query())
  const samples: number[] = []
  let total = 0
  for (let i = 0; i < runs; i++) {
    const q = query()
    const t0 = performance.now()
    const page = await store.list(DEFAULT_OWNER, q)
    samples.push(performance.now() - t0)
    total = page.total
  }
  samples.sort((a, b) => a - b)
  return { median: samples[Math.floor(runs / 2)]!, p99: samples[Math.min(runs - 1, Math.floor(runs * 0.99))]!, total, plan: lastPlan }
}

const QUERIES: Array<{ name: string, make: (n: number) => Promise<() => ListQuery> | (() => ListQuery) }> = [
  { name: '1. priority=high&isActive=true&sort=-createdAt&limit=20', make: () => () => ({ priority: ['high'], isActive: true, sort: parseSort('-createdAt'), limit: 20, offset: 0 }) },
  { name: '2. same, third page by cursor', make: () => () => ({ priority: ['high'], isActive: true, sort: parseSort('-createdAt'), limit: 20 }) },
  { name: '3. createdFrom/createdTo over 1%, sort=createdAt', make: (n) => () => ({ createdFrom: BASE + n / 2, createdTo: BASE + n / 2 + n / 100, sort: parseSort('createdAt'), limit: 20, offset: 0 }) },
  { name: '4. sort=title&offset=500&limit=20', make: () => () => ({ sort: parseSort('title'), limit: 20, offset: 500 }) },
  { name: '5a. q=meeting', make: () => () => ({ q: 'meeting', limit: 20, offset: 0 }) },
  { name: '5b. q=project upd', make: () => () => ({ q: 'project upd', limit: 20, offset: 0 }) },
  { name: '6. sort=-updatedAt&limit=100', make: () => () => ({ sort: parseSort('-updatedAt'), limit: 100, offset: 0 }) }
]

async function main (): Promise<void> {
  const results = new Map<number, Map<string, Timing & { total: number, plan: string }>>()
  const memory = new Map<number, Filled['bytesPerChat'] & { fillMs: number }>()
  for (const n of SIZES) {
    const filled = await fill(n)
    memory.set(n, { ...filled.bytesPerChat, fillMs: filled.fillMs })
    const runs = n >= 1_000_000 ? 200 : 500
    const row = new Map<string, Timing & { total: number, plan: string }>()
    for (const { name, make } of QUERIES) {
      let query = await make(n)
      if (name.startsWith('2.')) {
        const first = await filled.store.list(DEFAULT_OWNER, query())
        const second = await filled.store.list(DEFAULT_OWNER, { ...query(), cursor: first.nextCursor! })
        const base = query
        query = () => ({ ...base(), cursor: second.nextCursor! })
      }
      row.set(name, await time(filled.store, query, runs))
    }
    results.set(n, row)
    process.stderr.write(`${n}: filled in ${(filled.fillMs / 1000).toFixed(1)} s\n`)
  }
  const fmt = (x: number): string => x < 1 ? x.toFixed(3) : x.toFixed(2)
  const head = ['query', ...SIZES.map((n) => `${n.toLocaleString('en')}: median / p99 ms`), `median ${SIZES.at(-1)!.toLocaleString('en')} ÷ ${SIZES[0]!.toLocaleString('en')}`, 'matches (largest)', 'plan (largest)']
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  for (const { name } of QUERIES) {
    const cells = SIZES.map((n) => { const t = results.get(n)!.get(name)!; return `${fmt(t.median)} / ${fmt(t.p99)}` })
    const first = results.get(SIZES[0]!)!.get(name)!
    const last = results.get(SIZES.at(-1)!)!.get(name)!
    lines.push(`| ${name} | ${cells.join(' | ')} | ${(last.median / first.median).toFixed(2)}× | ${last.total.toLocaleString('en')} | \`${last.plan}\` |`)
  }
  lines.push('')
  lines.push('| chats | fill (create path) | heap bytes / chat, all | records + map | indexes but full text | full-text index |')
  lines.push('|---|---|---|---|---|---|')
  for (const n of SIZES) {
    const m = memory.get(n)!
    lines.push(`| ${n.toLocaleString('en')} | ${(m.fillMs / 1000).toFixed(1)} s | ${m.total.toFixed(0)} | ${m.base.toFixed(0)} | ${(m.base + m.indexes).toFixed(0)} (indexes ${m.indexes.toFixed(0)}) | ${m.text.toFixed(0)} |`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

await main()
