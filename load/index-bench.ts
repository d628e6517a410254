/**
 * Why the ordered indexes are chunked: one write into a flat sorted array of 1M slots moves half
 * of it, one into chunks of 256–4,096 moves one chunk. Times random inserts + removes at 1M entries.
 * Run: `npm run load -- index`.
 */
import { performance } from 'node:perf_hooks'
import { OrderedIndex } from '../src/store/memory/ordered-index.js'

const N = 1_000_000
const OPS = 2_000
const keys = new Float64Array(N + OPS)
for (let i = 0; i < keys.length; i++) keys[i] = Math.random()
const compare = (a: number, b: number): number => keys[a]! - keys[b]! || a - b

function flat (): number {
  const sorted = Int32Array.from({ length: N }, (_, i) => i).sort((a, b) => compare(a, b))
  const arr = new Int32Array(N + OPS)
  arr.set(sorted)
  let size = N
  const started = performance.now()
  for (let op = 0; op < OPS; op++) {
    const slot = N + op
    let lo = 0
    let hi = size
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (compare(arr[mid]!, slot) < 0) lo = mid + 1; else hi = mid }
    arr.copyWithin(lo + 1, lo, size)
    arr[lo] = slot
    size++
  }
  return (performance.now() - started) * 1000 / OPS
}

function chunked (chunk: number): number {
  const index = new OrderedIndex(compare, chunk)
  for (let i = 0; i < N; i++) index.insert(i)
  const started = performance.now()
  for (let op = 0; op < OPS; op++) index.insert(N + op)
  return (performance.now() - started) * 1000 / OPS
}

const rows = [['flat sorted Int32Array', flat()]]
for (const chunk of [256, 1024, 4096]) rows.push([`chunks of ${chunk}`, chunked(chunk)])
process.stdout.write('| ordered index at 1M entries | µs per insert |\n|---|---|\n')
for (const [name, us] of rows) process.stdout.write(`| ${String(name)} | ${Number(us).toFixed(2)} |\n`)
