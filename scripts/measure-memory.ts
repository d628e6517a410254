/**
 * How the memory guard's estimate compares with what the chats really take on the V8 heap.
 * Run: `node --expose-gc --import tsx scripts/measure-memory.ts [chats] [owners]` (default 50,000 chats
 * per profile, one owner; with more owners the chats are dealt out among them in turn).
 * `MEASURE_PROFILES=1,2` picks profiles by number. `MEASURE_HISTORY=10` keeps that many versions a
 * chat (HISTORY_VERSIONS) and updates each chat until it has them (its title and description
 * rewritten each time), so that the figure is a chat with its full history (and its share of
 * the owners' change feeds, CHANGES_RETAIN each).
 * For each profile it fills a fresh store, forces a GC before and after, and prints heapUsed's growth
 * per chat next to the estimate per chat (`store.stats().bytes`).
 */
import { createMemoryStore } from '../src/store/memory/memory-store.js'
import { DEFAULT_OWNER } from '../src/store/types.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

const count = Number(process.argv[2] ?? 50_000)
const ownerCount = Number(process.argv[3] ?? 1)
const owners = Array.from({ length: ownerCount }, (_, i) => ownerCount === 1 ? DEFAULT_OWNER : `owner-${String(i).padStart(4, '0')}`)
const only = process.env.MEASURE_PROFILES?.split(',').map(Number)
const history = Number(process.env.MEASURE_HISTORY ?? 0)
const profiles = [
  { name: 'short (title 12, no description)', title: 12, description: 0, text: 'a' },
  { name: 'typical (title 30, description 200)', title: 30, description: 200, text: 'a' },
  { name: 'largest (title 200, description 2000)', title: 200, description: 2000, text: 'a' },
  { name: 'typical, CJK text (two bytes a character)', title: 30, description: 200, text: '中' }
]

function settle (): number {
  for (let i = 0; i < 3; i++) gc!()
  // The query indexes keep their entries in typed arrays, whose contents live outside the V8 heap.
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

const rows: string[] = []
for (const [p, profile] of profiles.entries()) {
  if (only !== undefined && !only.includes(p + 1)) continue
  const store = createMemoryStore({ maxItems: count, maxBytes: 0, lockTimeoutMs: 1000, historyVersions: history })
  const n = profile.description > 1000 ? Math.ceil(count / 5) : count
  const before = settle()
  for (let i = 0; i < n; i++) {
    const tag = String(i).padStart(8, '0')
    // Through JSON, as a request body would arrive: fresh, flat strings for every chat.
    const input = JSON.parse(JSON.stringify({
      title: (profile.text.repeat(profile.title - 8)) + tag,
      description: profile.description === 0 ? undefined : profile.text.repeat(profile.description - 8) + tag
    })) as { title: string, description?: string }
    const owner = owners[i % ownerCount]!
    const chat = await store.create(owner, input)
    for (let v = 2; v <= history; v++) {
      const text = JSON.parse(JSON.stringify({ title: `${input.title.slice(0, -3)}v${String(v).padStart(2, '0')}`, description: input.description === undefined ? undefined : `${input.description.slice(0, -3)}v${String(v).padStart(2, '0')}` })) as { title: string, description?: string }
      await store.update(owner, chat.id, text)
    }
  }
  const after = settle()
  const measured = (after - before) / n
  const { bytes = 0, items } = await store.health()
  const estimated = bytes / n
  rows.push(`| ${profile.name} | ${n} | ${measured.toFixed(0)} | ${estimated.toFixed(0)} | ${(estimated / measured).toFixed(2)} |`)
  if (items !== n) throw new Error('the store lost chats')
}
process.stdout.write(`Node ${process.version}, ${ownerCount} owner(s), ${history > 1 ? `${history} versions a chat` : 'no history'}\n| profile | chats | heapUsed growth per chat (B) | estimate per chat (B) | estimate ÷ measured |\n|---|---|---|---|---|\n${rows.join('\n')}\n`)
