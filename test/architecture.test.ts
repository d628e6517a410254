import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The shape of the code, kept by a test: no import circle in src/ (type-only imports count too), and
 * the store (src/store/) knows nothing of HTTP: it imports nothing from outside itself but Node's
 * own modules, and names no problem type. One package is allowed, and only where it is the point:
 * the Redis backend (src/store/redis/) talks to Redis through its client, ioredis.
 */
const STORE_PACKAGES: Readonly<Record<string, readonly string[]>> = { 'store/redis/': ['ioredis'] }
const SRC = resolve(new URL('../src', import.meta.url).pathname)
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])
}

/** Every module of src/ with what it imports: relative imports as files, packages as their names. */
function graph (): Map<string, { files: string[], packages: string[] }> {
  const out = new Map<string, { files: string[], packages: string[] }>()
  for (const file of sources(SRC)) {
    const files: string[] = []
    const packages: string[] = []
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!
      if (spec.startsWith('.')) files.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      else packages.push(spec)
    }
    out.set(file, { files, packages })
  }
  return out
}

/** The first circle found, as a list of files, or undefined. */
function findCycle (g: Map<string, { files: string[] }>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file]
    state.set(file, 'open')
    path.push(file)
    for (const next of g.get(file)?.files ?? []) {
      const cycle = visit(next)
      if (cycle !== undefined) return cycle
    }
    path.pop()
    state.set(file, 'done')
    return undefined
  }
  for (const file of g.keys()) {
    const cycle = visit(file)
    if (cycle !== undefined) return cycle.map((f) => relative(SRC, f))
  }
  return undefined
}

describe('the shape of src/', () => {
  const g = graph()

  it('reads every module and finds its imports', () => {
    expect(g.size).toBeGreaterThan(40)
    expect(g.get(join(SRC, 'store/chat-store.ts'))?.files).toContain(join(SRC, 'store/rules.ts'))
  })

  it('has no import circle', () => {
    expect(findCycle(g)).toBeUndefined()
  })

  it('finds a circle when there is one (the check itself works)', () => {
    const a = join(SRC, 'a.ts')
    const b = join(SRC, 'b.ts')
    expect(findCycle(new Map([[a, { files: [b] }], [b, { files: [a] }]]))).toEqual(['a.ts', 'b.ts', 'a.ts'])
  })

  it('keeps the store apart from HTTP: it imports only itself and Node (and the Redis backend ioredis), and builds no problem type', () => {
    const store = join(SRC, 'store')
    const broken: string[] = []
    for (const [file, { files, packages }] of g) {
      if (!file.startsWith(store + '/')) continue
      for (const dep of files) if (!dep.startsWith(store + '/')) broken.push(`${relative(SRC, file)} imports ${relative(SRC, dep)}`)
      const allowed = Object.entries(STORE_PACKAGES).flatMap(([dir, names]) => relative(SRC, file).startsWith(dir) ? names : [])
      for (const name of packages) if (!name.startsWith('node:') && !allowed.includes(name)) broken.push(`${relative(SRC, file)} imports ${name}`)
      if (/\/problems\/|problem\+json|AppError/.test(readFileSync(file, 'utf8'))) broken.push(`${relative(SRC, file)} names a problem type`)
    }
    expect(broken).toEqual([])
  })
})
