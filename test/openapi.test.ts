import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { CLIENT_TYPES_PATH, generateClientTypes, generateOpenApi, OPENAPI_PATH } from '../scripts/generate-openapi.js'
import { build } from './helper.js'

describe('OpenAPI document', () => {
  let app: FastifyInstance
  beforeAll(async () => { app = await build() })
  afterAll(async () => { await app.close() })

  it('is committed as the code generates it (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(OPENAPI_PATH, 'utf8')
    expect(committed).toBe(await generateOpenApi())
  })

  it('has the typed client\'s types committed as generated from it (run `npm run openapi`)', async () => {
    const committed = await readFile(CLIENT_TYPES_PATH, 'utf8')
    expect(committed).toBe(await generateClientTypes(await readFile(OPENAPI_PATH, 'utf8')))
  })

  it('is served at /openapi.json, the same as the committed file', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(JSON.parse(await readFile(OPENAPI_PATH, 'utf8')))
  })

  interface Operation { responses: Record<string, { headers?: Record<string, unknown>, content?: Record<string, { schema: { $ref?: string, allOf?: { $ref?: string }[] } }> }>, requestBody?: { content: Record<string, unknown> } }
  interface Doc { components: { schemas: Record<string, unknown> }, paths: Record<string, Record<string, Operation>>, servers: unknown[] }

  it('names its components and declares the errors of every chat route', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Doc>()
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Chat', 'ChatInput', 'ChatPatch', 'ChatPage', 'Problem', 'Priority']))
    expect(JSON.stringify(doc)).not.toMatch(/def-\d/)
    const post = doc.paths['/chats']?.post
    expect(post?.responses['201']?.headers).toHaveProperty('Location')
    expect(post?.responses['400']?.content?.['application/problem+json']?.schema.allOf?.[0]?.$ref).toBe('#/components/schemas/Problem')
    expect(doc.paths['/chats/{id}']?.patch?.requestBody?.content).toHaveProperty(['application/merge-patch+json'])
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith('/chats')) continue
      for (const op of Object.values(item)) expect(op.responses).toHaveProperty('500')
    }
  })

  it('serves Swagger UI at /docs, pointed at the server that serves it', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('swagger-ui')
    const spec = await app.inject({ method: 'GET', url: '/docs/json', headers: { host: 'example.test:8080' } })
    expect(spec.json<Doc>().servers).toEqual([{ url: 'http://example.test:8080' }])
  })
})
