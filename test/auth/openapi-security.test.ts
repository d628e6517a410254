import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { OPENAPI_PATH } from '../../scripts/generate-openapi.js'

interface Response { headers?: Record<string, unknown>, content?: Record<string, unknown> }
interface Doc {
  components: { securitySchemes: Record<string, Record<string, unknown>> }
  paths: Record<string, Record<string, { security?: Record<string, string[]>[], responses: Record<string, Response> }>>
}

describe('OpenAPI: who the caller is', () => {
  it('declares bearerAuth and apiKey, asks for either on every /chats and /changes operation, and lists its 401 with WWW-Authenticate', async () => {
    const doc = JSON.parse(await readFile(OPENAPI_PATH, 'utf8')) as Doc
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' })
    let operations = 0
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (path.startsWith('/chats') || path === '/changes') {
          operations++
          expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }, { apiKey: [] }])
          expect(Object.keys(op.responses['401']?.headers ?? {}), `${method} ${path}`).toContain('WWW-Authenticate')
        } else {
          expect(op.security, `${method} ${path}`).toBeUndefined()
        }
      }
    }
    expect(operations).toBeGreaterThanOrEqual(6)
    expect(doc.paths['/metrics']?.get?.responses['401']).toBeDefined()
    expect(doc.paths['/health/live']?.get?.responses['401']).toBeUndefined()
  })
})
