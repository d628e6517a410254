import autocannon, { type Options, type Result } from 'autocannon'
import type { Chat } from '../src/store/types.js'
import { summarize, type Summary } from './report.js'
import { chatInput } from './scenarios.js'

/** One autocannon run; the progress bar shows when stdout is a terminal. */
export async function measure (options: Options, progress = process.stdout.isTTY): Promise<Result> {
  return await new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => {
      if (err === null || err === undefined) resolve(result)
      else reject(err as Error)
    })
    if (progress) {
      autocannon.track(instance, {
        outputStream: process.stdout,
        renderProgressBar: true,
        renderResultsTable: false,
        renderLatencyTable: false,
        progressBarString: `${options.title ?? ''} [:bar] :percent`
      })
    }
  })
}

/** Creates `count` chats over HTTP (the same bodies the create scenario sends) and returns them as answered. */
export async function seed (url: string, count: number, connections = 50, progress = process.stdout.isTTY, headers: Record<string, string> = {}): Promise<Chat[]> {
  const chats: Chat[] = []
  let n = 0
  let refused = 0
  const result = await measure({
    url,
    title: 'seed',
    connections: Math.min(connections, count),
    amount: count,
    timeout: 30,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      setupRequest: (req) => ({ ...req, path: '/chats', body: JSON.stringify(chatInput(n++)) }),
      onResponse: (status, body) => {
        if (status === 201) chats.push(JSON.parse(body) as Chat)
        else refused++
      }
    }]
  }, progress)
  if (chats.length !== count || result.errors > 0) {
    throw new Error(`seeding made ${chats.length} of ${count} chats (${refused} refused, ${result.errors} errors)`)
  }
  return chats
}

/** `total` of the first page: how many chats the store holds. */
export async function storeSize (url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${url}/chats?limit=1`, { headers })
  const page = await res.json() as { total?: unknown }
  if (res.status !== 200 || typeof page.total !== 'number') throw new Error(`GET /chats answered ${res.status}`)
  return page.total
}

/** Whether the list page takes filters and sort (the query engine); a 400 means not yet. */
export async function supportsFilteredList (url: string, path: string, headers: Record<string, string> = {}): Promise<boolean> {
  const res = await fetch(url + path, { headers })
  await res.arrayBuffer()
  if (res.status === 200) return true
  if (res.status === 400) return false
  throw new Error(`GET ${path} answered ${res.status}`)
}

/** One run of several that make a figure: autocannon's result (not aggregated) and the server's CPU time over it. */
export interface Part {
  result: Result
  cpuSeconds?: number
}

// autocannon exports it; its type definitions do not declare it.
const aggregateResult = (autocannon as unknown as { aggregateResult: (results: Result[], opts: Options) => Result }).aggregateResult

/** Runs made with `skipAggregateResult` as one: latencies merged, throughput over the sum of their durations. */
export function combineParts (parts: Part[], options: Options): { summary: Summary, result: Result } {
  const result = aggregateResult(parts.map((p) => p.result), options)
  const seconds = parts.reduce((sum, p) => sum + p.result.duration, 0)
  const summary = summarize({ ...result, duration: seconds })
  const cpu = parts.map((p) => p.cpuSeconds)
  if (summary.requests > 0 && cpu.every((c) => c !== undefined)) {
    summary.cpuUsPerRequest = cpu.reduce((a, b) => a + b, 0) * 1e6 / summary.requests
  }
  return { summary, result: { ...result, duration: seconds } }
}
