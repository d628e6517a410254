import { readFileSync } from 'node:fs'

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
export interface CpuProfile {
  nodes: { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileLine { name: string, ms: number, share: number }

/** Where a frame's code lives: a package, one of our files, Node itself, or V8's own buckets. */
export function areaOf (url: string, functionName: string): string {
  if (url === '') return `(${functionName.replace(/[()]/g, '') || 'native'})`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]!
  if (url.startsWith('node:')) return 'node internals'
  const ours = /\/(src|dist|load)\/(.+)$/.exec(url)
  return ours === null ? url : `${ours[1]!}/${ours[2]!}`
}

/** Self time by function and by area, largest first, from the samples and their time deltas. */
export function summarizeProfile (profile: CpuProfile, top = 25): { totalMs: number, functions: ProfileLine[], areas: ProfileLine[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => { self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)) })
  const functions = new Map<string, number>()
  const areas = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) continue
    total += us
    const file = frame.url.replace(/^.*\/(node_modules\/|src\/|dist\/|load\/)/, '$1')
    const fn = `${frame.functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${frame.lineNumber + 1}`}`.trim()
    functions.set(fn, (functions.get(fn) ?? 0) + us)
    const area = areaOf(frame.url, frame.functionName)
    areas.set(area, (areas.get(area) ?? 0) + us)
  }
  const lines = (m: Map<string, number>): ProfileLine[] => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }))
  return { totalMs: total / 1000, functions: lines(functions), areas: lines(areas) }
}

export function profileText (summary: ReturnType<typeof summarizeProfile>): string {
  const fmt = (l: ProfileLine): string => `${(l.share * 100).toFixed(1).padStart(5)}%  ${l.ms.toFixed(0).padStart(7)} ms  ${l.name}`
  return [
    `CPU profile: ${summary.totalMs.toFixed(0)} ms sampled`,
    'self time by area:', ...summary.areas.map(fmt),
    'self time by function:', ...summary.functions.map(fmt)
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]')
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  process.stdout.write(profileText(summarizeProfile(profile, Number(process.argv[3] ?? 25))) + '\n')
}
