import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Every answer a test gets from the app, checked against the committed `openapi/openapi.json`:
 * the status is declared for the operation, every header is declared (but the transport's and the
 * security headers' below), the media type is one the response declares (none when it declares no
 * content), and the body is valid against its schema. Ajv (draft 2020-12, the dialect of OpenAPI
 * 3.1) does the validation; this file only finds the schema the document gives an answer.
 */

interface Header { schema?: unknown, required?: boolean }
interface Response { headers?: Record<string, Header>, content?: Record<string, { schema?: unknown }> }
interface Operation { responses: Record<string, Response> }
interface Document { paths: Record<string, Record<string, Operation>> }

const DOC_ID = 'openapi.json'
// The committed file, read on its own (scripts/generate-openapi.ts would load the whole app and the generator).
export const document = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Document

/**
 * Headers the document does not describe per operation, and why: HTTP's own framing, the media
 * type (checked against `content` instead), helmet's security headers and CORS's, which every
 * answer of every route carries alike (src/plugins/security-headers.ts).
 */
export const UNDESCRIBED_HEADERS = new Set([
  'content-type', 'content-length', 'transfer-encoding', 'date', 'connection', 'keep-alive',
  'content-security-policy', 'cross-origin-resource-policy', 'cross-origin-opener-policy', 'cross-origin-embedder-policy',
  'origin-agent-cluster', 'referrer-policy', 'strict-transport-security', 'x-dns-prefetch-control', 'x-download-options',
  'x-frame-options', 'x-permitted-cross-domain-policies', 'x-xss-protection',
  'vary', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers',
  'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age'
])

const addFormats = ajvFormats.default
const bodies = new Ajv2020({ strict: false, allErrors: true })
const headers = new Ajv2020({ strict: false, allErrors: true, coerceTypes: true })
for (const ajv of [bodies, headers]) {
  addFormats(ajv)
  ajv.addSchema(document, DOC_ID)
}
const compiled = new Map<string, ValidateFunction>()

const pointer = (...segments: string[]): string =>
  `${DOC_ID}#/${segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')}`

function validator (ajv: Ajv2020, ref: string): ValidateFunction {
  const key = `${ajv === bodies ? 'b' : 'h'}${ref}`
  let validate = compiled.get(key)
  if (validate === undefined) {
    validate = ajv.compile({ $ref: ref })
    compiled.set(key, validate)
  }
  return validate
}

/** The document's schema at `segments` (a JSON pointer's), as a validator: what a document-driven tool would check. */
export function documentValidator (...segments: string[]): ValidateFunction {
  return validator(bodies, pointer(...segments))
}

export interface Answer {
  method: string
  /** The OpenAPI path template of the route that answered, or undefined when no route did (a 404). */
  path: string | undefined
  url: string
  status: number
  headers: Record<string, unknown>
  body: string | Buffer | undefined
}

const mediaType = (contentType: unknown): string | undefined =>
  typeof contentType === 'string' ? contentType.split(';')[0]!.trim().toLowerCase() : undefined

const isJson = (type: string): boolean => type === 'application/json' || type.endsWith('+json')

/** What is wrong with an answer, as the document sees it: nothing, an empty list. */
export function mismatches (answer: Answer): string[] {
  const { method, status } = answer
  const where = `${method} ${answer.url} → ${status}`
  // No route answered (an unknown path, a path id over the router's limit): the not-found handler's
  // problem, or a guard's before it; no operation to look up, but the answer is still a Problem.
  if (answer.path === undefined) {
    const type = mediaType(answer.headers['content-type'])
    if (type !== 'application/problem+json') return [`${where}: an answer with no route is ${type ?? 'without a media type'}, not application/problem+json`]
    return checkBody(where, answer.body, type, pointer('components', 'schemas', 'Problem'))
  }
  const operation = document.paths[answer.path]?.[method.toLowerCase()]
  if (operation === undefined) return [`${where}: the document has no operation ${method} ${answer.path}`]
  const key = [String(status), `${String(status)[0]!}XX`, 'default'].find((k) => operation.responses[k] !== undefined)
  if (key === undefined) return [`${where}: status ${status} is not declared (declared: ${Object.keys(operation.responses).join(', ')})`]
  const declared = operation.responses[key]!
  const found: string[] = []
  const responsePointer = ['paths', answer.path, method.toLowerCase(), 'responses', key]

  const declaredHeaders = new Map(Object.keys(declared.headers ?? {}).map((name) => [name.toLowerCase(), name]))
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || UNDESCRIBED_HEADERS.has(name.toLowerCase())) continue
    const declaredName = declaredHeaders.get(name.toLowerCase())
    if (declaredName === undefined) { found.push(`${where}: header ${name} is not declared`); continue }
    if (declared.headers![declaredName]!.schema === undefined) continue
    const validate = validator(headers, pointer(...responsePointer, 'headers', declaredName, 'schema'))
    const text: string = Array.isArray(value) ? value.join(', ') : typeof value === 'string' ? value : JSON.stringify(value)
    if (!validate(text)) found.push(`${where}: header ${name}: ${JSON.stringify(value)} ${headers.errorsText(validate.errors)}`)
  }

  for (const [name, header] of Object.entries(declared.headers ?? {})) {
    const sent = Object.keys(answer.headers).some((h) => h.toLowerCase() === name.toLowerCase() && answer.headers[h] !== undefined)
    if (header.required === true && !sent) found.push(`${where}: required header ${name} is missing`)
  }

  const type = mediaType(answer.headers['content-type'])
  const hasBody = answer.body !== undefined && answer.body.length > 0
  if (declared.content === undefined) {
    if (hasBody || type !== undefined) found.push(`${where}: declares no content, got ${type ?? 'no media type'} with ${hasBody ? 'a body' : 'no body'}`)
    return found
  }
  if (type === undefined || declared.content[type] === undefined) {
    found.push(`${where}: media type ${type ?? '(none)'} is not declared (declared: ${Object.keys(declared.content).join(', ')})`)
    return found
  }
  if (method === 'HEAD') return found
  if (declared.content[type].schema !== undefined) found.push(...checkBody(where, answer.body, type, pointer(...responsePointer, 'content', type, 'schema')))
  return found
}

function checkBody (where: string, body: string | Buffer | undefined, type: string, ref: string): string[] {
  const text = body === undefined ? '' : body.toString()
  let value: unknown = text
  if (isJson(type)) {
    try {
      value = JSON.parse(text)
    } catch {
      return [`${where}: the ${type} body is not JSON: ${text.slice(0, 80)}`]
    }
  }
  const validate = validator(bodies, ref)
  return validate(value) ? [] : [`${where}: body ${bodies.errorsText(validate.errors)}: ${text.slice(0, 200)}`]
}

/** Answers outside the API the document describes: Swagger UI's pages and assets, and CORS preflights. */
function outsideTheApi (request: FastifyRequest): boolean {
  return request.url.startsWith('/docs') || (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined)
}

/**
 * The answers got since the last `takeMismatches()`, each with the test that got it. They are
 * checked then (after the test), not as they come: checking compiles validators, which would slow
 * the answers of timing-sensitive tests (a cache window, a rate-limit window) down.
 */
const pending: { answer: Answer, test: string | undefined }[] = []
let allowed = 0

export function takeMismatches (): string[] {
  const found: string[] = []
  for (const { answer, test } of pending.splice(0)) {
    try {
      for (const problem of mismatches(answer)) found.push(`${test ?? '(outside a test)'}: ${problem}`)
    } catch (err) {
      found.push(`${test ?? '(outside a test)'}: checking ${answer.method} ${answer.url} failed: ${(err as Error).stack ?? String(err)}`)
    }
  }
  return found
}

/**
 * Runs `fn`, during which mismatches are expected and not reported: for the few tests that make
 * the app answer outside its contract on purpose (each says why).
 */
export async function outsideContract<T> (fn: () => Promise<T>): Promise<T> {
  allowed++
  try {
    return await fn()
  } finally {
    allowed--
  }
}

const templateOf = (url: string | undefined): string | undefined => url?.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

/**
 * Watches the answers of one Fastify instance: the payload as `onSend` first sees it (after the
 * serializer, before anything holds it back), the status and headers as they went out (`onResponse`).
 * Only the service's apps are checked (`buildApp` decorates `lifecycle`): other Fastify instances
 * in the tests (a load test's baselines) have contracts of their own.
 */
export function watchResponses (app: FastifyInstance, testName: () => string | undefined): void {
  const payloads = new WeakMap<FastifyRequest, string | Buffer | undefined>()
  app.addHook('onSend', (request, _reply, payload, done) => {
    payloads.set(request, typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : undefined)
    done(null, payload)
  })
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (!app.hasDecorator('lifecycle') || outsideTheApi(request) || allowed > 0) { done(); return }
    pending.push({
      test: testName(),
      answer: {
        method: request.method,
        path: templateOf(request.routeOptions.url),
        url: request.url,
        status: reply.statusCode,
        headers: { ...reply.getHeaders() },
        // What the wire carries: Fastify drops a 204's body (a returned null), Node a 304's, and HEAD has none.
        body: reply.statusCode === 204 || reply.statusCode === 304 || request.method === 'HEAD' ? undefined : payloads.get(request)
      }
    })
    done()
  })
}
