import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'

export type AuditAction = 'create' | 'update' | 'replace' | 'delete'
const ACTIONS: Partial<Record<string, AuditAction>> = { POST: 'create', PATCH: 'update', PUT: 'replace', DELETE: 'delete' }

/** The version an ETag names (`"3"` → 3), or undefined. */
export function versionOf (etag: unknown): number | undefined {
  if (typeof etag !== 'string') return undefined
  const match = /^(?:W\/)?"(\d+)"$/.exec(etag)
  return match === null ? undefined : Number(match[1])
}

function auditHook (action: AuditAction) {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const status = reply.statusCode
    // A replayed answer (Idempotency-Key) changed nothing this time.
    if (status >= 200 && status < 300 && reply.getHeader('idempotent-replayed') === undefined) {
      const location = reply.getHeader('location')
      const id = (request.params as { id?: string } | undefined)?.id ??
        (typeof location === 'string' ? location.slice(location.lastIndexOf('/') + 1) : undefined)
      request.log.info({ audit: { owner: request.owner, action, chatId: id, version: versionOf(reply.getHeader('etag')) ?? null, requestId: request.id } }, 'audit')
    }
    done()
  }
}

/**
 * One audit line at info per write that took effect (a 2xx on POST, PATCH, PUT or DELETE of a
 * /chats route): owner, action, chat id, new version (from the ETag; null for a delete) and request
 * id. An onResponse hook on those routes: the handlers need not know.
 */
export default fp(async (app) => {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/chats')) return
    const methods = [route.method].flat()
    const action = methods.length === 1 ? ACTIONS[methods[0]!] : undefined
    if (action === undefined) return
    const current = route.onResponse as unknown
    const hooks: unknown[] = current === undefined ? [] : Array.isArray(current) ? current : [current]
    route.onResponse = [...hooks, auditHook(action)] as RouteOptions['onResponse']
  })
}, { name: 'audit' })
