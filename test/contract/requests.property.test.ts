import fc from 'fast-check'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, jsonHeaders } from '../helper.js'
import { bodySchema, invalid, queryParameters, valid, type Schema } from './arbitraries.js'

interface Problem { type: string, status: number, errors?: { in: string, path: string, message: string }[] }

/**
 * Requests made from the document (test/contract/arbitraries.ts): every valid body and query
 * string is accepted, every one with a field the document refuses is a 400 validation problem
 * naming that field, and nothing is a 5xx. Every answer is also checked against the document
 * (test/setup.ts).
 */
describe('requests generated from the document', () => {
  let app: FastifyInstance
  let id: string
  const runs = { numRuns: 60 }

  beforeAll(async () => {
    app = await build({ MAX_ITEMS: 1_000_000 })
    id = (await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'target' } })).json<{ id: string }>().id
  })
  afterAll(async () => { await app.close() })

  const send = async (method: 'POST' | 'PUT' | 'PATCH', payload: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method, url: method === 'POST' ? '/chats' : `/chats/${id}`, headers: jsonHeaders, payload })

  const expectNamed = (res: LightMyRequestResponse, part: string, field: string): void => {
    expect(res.statusCode, res.body).toBe(400)
    const problem = res.json<Problem>()
    expect(problem.type).toBe('/problems/validation')
    // The field itself, or one of its items (`/priority/0`).
    const named = (problem.errors ?? []).some((e) => e.in === part && (e.path === `/${field}` || e.path.startsWith(`/${field}/`)))
    expect(named, res.body).toBe(true)
  }

  /** A valid body of `schema` with one field broken (or added: unknown, server-owned, a prototype key). */
  const broken = (schema: Schema): fc.Arbitrary<{ field: string, json: string }> => {
    const fields = Object.entries(schema.properties!)
    return fc.tuple(valid(schema) as fc.Arbitrary<Record<string, unknown>>, fc.oneof(
      ...fields.map(([field, s]) => invalid(s, 'body').map((value) => ({ field, value }))),
      fc.constantFrom('id', 'createdAt', 'updatedAt', 'version', 'colour').map((field) => ({ field, value: 1 })),
      fc.constantFrom('__proto__', 'constructor').map((field) => ({ field, value: { prototype: { polluted: true } } }))
    )).map(([body, { field, value }]) => {
      // JSON text, not an object: `{ __proto__: … }` in an object literal is a prototype, not a key.
      const rest = Object.entries(body).filter(([k]) => k !== field).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
      return { field, json: `{${[...rest, `${JSON.stringify(field)}:${JSON.stringify(value)}`].join(',')}}` }
    })
  }

  for (const [method, path] of [['POST', '/chats'], ['PUT', '/chats/{id}'], ['PATCH', '/chats/{id}']] as const) {
    const schema = bodySchema(path, method.toLowerCase())

    it(`${method} ${path}: accepts every valid body`, async () => {
      await fc.assert(fc.asyncProperty(valid(schema), async (body) => {
        const res = await send(method, JSON.stringify(body))
        expect(res.statusCode, res.body).toBe(method === 'POST' ? 201 : 200)
      }), runs)
    })

    it(`${method} ${path}: answers a body with a broken field 400, naming it`, async () => {
      await fc.assert(fc.asyncProperty(broken(schema), async ({ field, json }) => {
        const res = await send(method, json)
        expectNamed(res, 'body', field)
      }), runs)
    })
  }

  const query = queryParameters('/chats', 'get')
  /** `cursor` is the server's to make, and `offset` goes without it: valid lists leave `cursor` out. */
  const listable = query.filter((p) => p.name !== 'cursor')
  // `q` must hold a letter or digit, which its description says and its schema cannot.
  const validValue = (p: { name: string, schema: Schema }): fc.Arbitrary<unknown> =>
    p.name === 'q' ? fc.stringMatching(/^[a-z0-9]{1,8}( [a-z0-9]{1,8}){0,2}$/) : valid(p.schema)
  const queryString = (params: Record<string, unknown>): string => {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(params)) {
      for (const v of Array.isArray(value) ? value : [value]) search.append(name, String(v))
    }
    return search.toString()
  }
  const validQuery = fc.record(Object.fromEntries(listable.map((p) => [p.name, validValue(p)])), { requiredKeys: [] })
    .filter((q) => typeof q.createdFrom !== 'string' || typeof q.createdTo !== 'string' || q.createdFrom <= q.createdTo)

  it('GET /chats: accepts every valid query string', async () => {
    await fc.assert(fc.asyncProperty(validQuery, async (params) => {
      const res = await app.inject({ method: 'GET', url: `/chats?${queryString(params)}` })
      expect(res.statusCode, `${queryString(params)}: ${res.body}`).toBe(200)
    }), runs)
  })

  it('GET /chats: answers a query string with a broken parameter 400, naming it', async () => {
    const brokenQuery = fc.tuple(validQuery, fc.oneof(
      ...query.map((p) => invalid(p.schema, 'query').map((value) => ({ name: p.name, value }))),
      fc.constantFrom('colour', 'page', '__proto__', 'constructor').map((name) => ({ name, value: '1' }))
    )).map(([params, { name, value }]) => ({ name, qs: queryString({ ...Object.fromEntries(Object.entries(params).filter(([k]) => k !== name)), [name]: value }) }))
    await fc.assert(fc.asyncProperty(brokenQuery, async ({ name, qs }) => {
      const res = await app.inject({ method: 'GET', url: `/chats?${qs}` })
      expect(res.statusCode, `${qs}: ${res.body}`).toBeLessThan(500)
      expectNamed(res, 'querystring', name)
    }), runs)
  })

  it('never answers a 5xx, whatever the body', async () => {
    const anyJson = fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)))
    await fc.assert(fc.asyncProperty(fc.constantFrom('POST', 'PUT', 'PATCH' as const), anyJson, async (method, text) => {
      const res = await send(method, text)
      expect(res.statusCode, res.body).toBeLessThan(500)
    }), runs)
  })
})
