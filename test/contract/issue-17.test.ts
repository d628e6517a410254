import type { FastifyInstance } from 'fastify'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, jsonHeaders } from '../helper.js'
import { document, documentValidator } from './responses.js'

interface Parameter { name: string, in: string, required?: boolean, schema: { default?: unknown } }
interface Operation { parameters?: Parameter[], responses: Record<string, { content?: unknown, headers?: Record<string, unknown> }> }
const paths = document.paths as unknown as Record<string, Record<string, Operation>>

/** The disagreements between the document and the service that issue 17 lists, each guarded here. */
describe('issue 17: the document and the service agree', () => {
  let app: FastifyInstance
  beforeAll(async () => { app = await build() })
  afterAll(async () => { await app.close() })

  it('requires no query parameter (limit has its default), and every path parameter', () => {
    for (const [path, item] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const p of op.parameters ?? []) expect(p.required === true, `${method} ${path} ${p.in} ${p.name}`).toBe(p.in === 'path')
      }
    }
    expect(paths['/chats']!.get!.parameters!.find((p) => p.name === 'limit')).toMatchObject({ required: false, schema: { default: 20 } })
  })

  it('declares the 304 of GET /chats/{id} with its headers and no content', () => {
    const notModified = paths['/chats/{id}']!.get!.responses['304']!
    expect(notModified.content).toBeUndefined()
    expect(Object.keys(notModified.headers ?? {})).toContain('ETag')
  })

  it('bounds title and description in the document exactly as the service does, also around the trim', async () => {
    const documentAccepts = documentValidator('components', 'schemas', 'ChatInput')
    expect(documentAccepts({ title: 'x'.repeat(201) })).toBe(false)
    expect(documentAccepts({ title: `  ${'x'.repeat(200)}\t\n` })).toBe(true)
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom('x', ' ', '\t', '\n', '\u00a0', '\u0001', '\u007f', 'é', '😀'), maxLength: 210 }),
      fc.tuple(fc.nat(4), fc.integer({ min: 195, max: 205 }), fc.nat(4)).map(([a, n, b]) => `${' '.repeat(a)}${'y'.repeat(n)}${' '.repeat(b)}`),
      fc.integer({ min: 1995, max: 2005 }).map((n) => 'z'.repeat(n))
    )
    await fc.assert(fc.asyncProperty(text, fc.constantFrom('title', 'description'), async (value, field) => {
      const body = field === 'title' ? { title: value } : { title: 't', description: value }
      const res = await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: body })
      expect(res.statusCode, `${JSON.stringify(body)}: ${res.body}`).toBe(documentAccepts(body) ? 201 : 400)
    }), { numRuns: 300 })
  })

  it('answers a __proto__ or constructor key with a 400 validation problem naming it', async () => {
    const cases = [
      ['{"title":"x","__proto__":{"polluted":true}}', '/__proto__'],
      ['{"title":"x","constructor":{"prototype":{"polluted":true}}}', '/constructor'],
      ['{"title":"x","\\u005f_proto__":{}}', '/__proto__']
    ] as const
    const total = async (): Promise<number> => (await app.inject({ method: 'GET', url: '/chats' })).json<{ total: number }>().total
    const before = await total()
    for (const [payload, path] of cases) {
      const res = await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload })
      expect(res.statusCode, payload).toBe(400)
      expect(res.json()).toMatchObject({ type: '/problems/validation', errors: [{ in: 'body', path, message: expect.any(String) as string }] })
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(await total()).toBe(before)
  })

  it('declares a 4XX on /metrics; health and the document have none, and the linter is told why', () => {
    expect(paths['/metrics']!.get!.responses['401']).toBeDefined()
    for (const path of ['/health/live', '/health/ready', '/openapi.json']) {
      expect(Object.keys(paths[path]!.get!.responses).filter((s) => s.startsWith('4')), path).toEqual([])
    }
  })
})
