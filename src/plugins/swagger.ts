import swagger, { type SwaggerTransformObject } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ChatInputSchema, ChatPageSchema, ChatPatchSchema, ChatSchema, PrioritySchema } from '../schemas/chat.js'
import { ChangePageSchema, ChangeSchema, HistoryEntrySchema, HistoryPageSchema } from '../schemas/changes.js'
import { ProblemSchema, problemResponses } from '../schemas/problem.js'

/**
 * The OpenAPI document, made from the routes' own schemas, with the shared schemas as named
 * components; Swagger UI at /docs, pointed at the server that serves it so "Try it out" works;
 * the document itself at /openapi.json (the same as openapi/openapi.json).
 */
/** What the data routes take: a Bearer value (a JWT, or an API key) or an X-API-Key. */
export const DATA_SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKey: [] }]
/** Health and the document: never any credentials. */
export const NO_SECURITY: Record<string, string[]>[] = []
/** `/metrics`: open, unless METRICS_TOKEN is set (then its Bearer token). */
export const METRICS_SECURITY: Record<string, string[]>[] = [{}, { metricsToken: [] }]

/** What every answer carries, whatever its route and status (src/app.ts, src/plugins/security-headers.ts). */
export const EVERY_ANSWER_HEADERS = {
  'X-Request-Id': { type: 'string', 'x-required': true, pattern: '^[A-Za-z0-9._-]{1,128}$', description: 'The client\'s `X-Request-Id` when it sent one of 1–128 characters from `A-Za-z0-9._-`, otherwise one the server made.' },
  'X-Content-Type-Options': { type: 'string', 'x-required': true, enum: ['nosniff'], description: 'Never sniffed.' }
}

type SwaggerDocumentObject = Parameters<SwaggerTransformObject>[0]
type Headers = Record<string, { required?: boolean, schema?: Record<string, unknown> }>
type Paths = Record<string, Record<string, { responses?: Record<string, { headers?: Headers }> }>>

/**
 * A response header whose schema says `'x-required': true` is `required: true` in the document
 * (@fastify/swagger copies a header's keys into its `schema`, where `required` means something else).
 */
export function requireHeaders (generated: SwaggerDocumentObject): ReturnType<SwaggerTransformObject> {
  // Only ever the OpenAPI 3 document here (`openapi` options, no `swagger` ones).
  const document = 'openapiObject' in generated ? generated.openapiObject : generated.swaggerObject
  for (const item of Object.values((document.paths ?? {}) as Paths)) {
    for (const operation of Object.values(item)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const header of Object.values(response.headers ?? {})) {
          if (header.schema?.['x-required'] !== true) continue
          delete header.schema['x-required']
          header.required = true
        }
      }
    }
  }
  return document
}

/** Declares the headers of every answer on each documented response of a route. */
function onRoute (route: RouteOptions): void {
  const schema = route.schema as { hide?: boolean, response?: Record<string, Record<string, unknown>> } | undefined
  if (schema?.response === undefined || schema.hide === true) return
  const response: Record<string, Record<string, unknown>> = {}
  for (const [status, answer] of Object.entries(schema.response)) {
    response[status] = { ...answer, headers: { ...(answer.headers as object | undefined), ...EVERY_ANSWER_HEADERS } }
  }
  route.schema = { ...route.schema, response }
}

export const swaggerOptions = {
  // Fastify answers HEAD on every GET route (the GET's status and headers, no body): documented too.
  exposeHeadRoutes: true,
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Chat sessions service',
      version: '0.1.0',
      description: 'Create, read, list, update and delete chat sessions. Errors are RFC 9457 problem+json.',
      contact: { name: 'Chat sessions service maintainers', url: 'https://github.com/chat-sessions/service' },
      license: { name: 'MIT', identifier: 'MIT' }
    },
    servers: [{ url: 'http://127.0.0.1:3000', description: 'Local (npm start, docker compose)' }],
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http' as const, scheme: 'bearer', bearerFormat: 'JWT', description: 'AUTH_MODE=jwt: a JWT. AUTH_MODE=api-key: an API key as the Bearer value works too. Ignored with AUTH_MODE=none.' },
        apiKey: { type: 'apiKey' as const, in: 'header', name: 'X-API-Key', description: 'AUTH_MODE=api-key: an API key. Ignored with AUTH_MODE=none.' },
        metricsToken: { type: 'http' as const, scheme: 'bearer', description: '`/metrics` with METRICS_TOKEN set: that token as the Bearer value.' }
      }
    },
    tags: [
      { name: 'chats', description: 'Chat sessions' },
      { name: 'changes', description: 'The owner\'s change feed' },
      { name: 'health', description: 'Probes' },
      { name: 'metrics', description: 'Prometheus metrics' },
      { name: 'docs', description: 'This document' }
    ]
  },
  transformObject: requireHeaders,
  refResolver: {
    buildLocalReference: (json: Record<string, unknown>, _base: unknown, _fragment: string, i: number) =>
      typeof json.$id === 'string' ? json.$id : `def-${i}`
  }
}

export default fp(async (app) => {
  app.addHook('onRoute', onRoute)
  for (const schema of [PrioritySchema, ChatSchema, ChatInputSchema, ChatPatchSchema, ChatPageSchema, ChangeSchema, ChangePageSchema, HistoryEntrySchema, HistoryPageSchema, ProblemSchema]) {
    app.addSchema(schema)
  }
  await app.register(swagger, swaggerOptions)
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { tryItOutEnabled: true, displayRequestDuration: true },
    // The UI talks to the server it was loaded from, whatever host and port that is.
    transformSpecification: (spec, request) => ({ ...spec, servers: [{ url: `${request.protocol}://${request.host}` }] }),
    transformSpecificationClone: true
  })
  app.get('/openapi.json', {
    config: { rateLimit: false },
    schema: {
      operationId: 'openapi',
      summary: 'This OpenAPI document',
      description: 'The same as `openapi/openapi.json` in the repository.',
      tags: ['docs'],
      security: NO_SECURITY,
      response: {
        200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } },
        // While shutting down (src/app.ts), or overloaded (src/plugins/under-pressure.ts).
        ...problemResponses('unavailable')
      }
    }
  }, async () => app.swagger())
}, { name: 'swagger' })
