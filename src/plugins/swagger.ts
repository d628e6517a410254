import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { ChatInputSchema, ChatPageSchema, ChatPatchSchema, ChatSchema, PrioritySchema } from '../schemas/chat.js'
import { ChangePageSchema, ChangeSchema, HistoryEntrySchema, HistoryPageSchema } from '../schemas/changes.js'
import { ProblemSchema } from '../schemas/problem.js'

/**
 * The OpenAPI document, made from the routes' own schemas, with the shared schemas as named
 * components; Swagger UI at /docs, pointed at the server that serves it so "Try it out" works;
 * the document itself at /openapi.json (the same as openapi/openapi.json).
 */
/** What the data routes take: a Bearer value (a JWT, or an API key) or an X-API-Key. */
export const DATA_SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKey: [] }]

export const swaggerOptions = {
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
        apiKey: { type: 'apiKey' as const, in: 'header', name: 'X-API-Key', description: 'AUTH_MODE=api-key: an API key. Ignored with AUTH_MODE=none.' }
      }
    },
    tags: [
      { name: 'chats', description: 'Chat sessions' },
      { name: 'changes', description: 'The owner\'s change feed' },
      { name: 'health', description: 'Probes' },
      { name: 'metrics', description: 'Prometheus metrics' }
    ]
  },
  refResolver: {
    buildLocalReference: (json: Record<string, unknown>, _base: unknown, _fragment: string, i: number) =>
      typeof json.$id === 'string' ? json.$id : `def-${i}`
  }
}

export default fp(async (app) => {
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
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger())
}, { name: 'swagger' })
