import type { Options, Request } from 'autocannon'
import type { ScenarioName } from './args.js'

/** Who answers: our service, a peer with json-server's query dialect, or the ceiling (GET by id only). */
export type Dialect = 'service' | 'json-server'

/** The ids a target's scenarios draw from. `created` is filled by creates and drained by deletes. */
export interface Pools {
  seedIds: string[]
  created: string[]
  /** Deletes asked for after `created` ran dry (a 404 in delete, a read instead in mixed): a sign the pool was too small. */
  dry: number
}

export interface ScenarioContext {
  dialect: Dialect
  pools: Pools
  /** Filters and sort on the list page, or a plain offset page where the service has no filters yet. */
  filteredList: boolean
}

const JSON_HEADERS = { 'content-type': 'application/json' }
/**
 * A write's headers in the mixed workload: Content-Type added to what autocannon made of the run's
 * own (the credentials of an auth mode). A new object: autocannon's is the request's own, which
 * the reads that follow use too.
 */
const withJson = (headers: Request['headers']): NonNullable<Request['headers']> => ({ ...headers, ...JSON_HEADERS })
const PRIORITIES = ['low', 'medium', 'high'] as const

/** The n-th chat of the seed and of creates: varied priorities, activity and lengths. */
export function chatInput (n: number): { title: string, description: string, priority: string, isActive: boolean } {
  return {
    title: `Load test chat ${n} about ${['billing', 'onboarding', 'the launch', 'support'][n % 4]!}`,
    description: n % 5 === 0 ? '' : `Generated chat number ${n}; `.repeat(1 + (n % 4)),
    priority: PRIORITIES[n % 3]!,
    isActive: n % 4 !== 0
  }
}

/** The bodies the scenarios send, as objects. */
const CREATE_INPUTS = Array.from({ length: 64 }, (_, n) => chatInput(n))
const PATCH_INPUTS = [
  { isActive: false }, { isActive: true }, { priority: 'high' }, { priority: 'low' },
  { title: 'Patched by the load test' }, { description: 'Patched description', priority: 'medium' }
] as const
const REPLACE_INPUTS = Array.from({ length: 16 }, (_, n) => ({ ...chatInput(n + 1000), title: `Replaced chat ${n}` }))

// Bodies are made once: building them per request would load the client, which shares the cores.
const CREATE_BODIES = CREATE_INPUTS.map((b) => JSON.stringify(b))
const PATCH_BODIES = PATCH_INPUTS.map((b) => JSON.stringify(b))
const REPLACE_BODIES = REPLACE_INPUTS.map((b) => JSON.stringify(b))

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!

export function listPath (dialect: Dialect, filtered: boolean): string {
  if (dialect === 'json-server') {
    return filtered ? '/chats?priority=high&isActive=true&_sort=createdAt&_order=desc&_limit=20' : '/chats?_start=100&_limit=20'
  }
  return filtered ? '/chats?priority=high&isActive=true&sort=-createdAt&limit=20' : '/chats?limit=20&offset=100'
}

/** The id a create answered with: from `Location` (the service), else from the body (json-server sends none). */
export function createdId (body: string, headers: Record<string, string | string[]>): string | undefined {
  const location = headers.location ?? headers.Location
  if (typeof location === 'string') return location.slice(location.lastIndexOf('/') + 1)
  try {
    const parsed = JSON.parse(body) as { id?: unknown }
    return typeof parsed.id === 'string' || typeof parsed.id === 'number' ? String(parsed.id) : undefined
  } catch {
    return undefined
  }
}

function collectCreated (pools: Pools): Request['onResponse'] {
  return (status, body, _context, headers) => {
    if (status === 201) {
      const id = createdId(body, headers as Record<string, string | string[]>)
      if (id !== undefined) pools.created.push(id)
    }
  }
}

function getById (pools: Pools): Request {
  return { method: 'GET', setupRequest: (req: Request) => { req.path = `/chats/${pick(pools.seedIds)}`; return req } }
}

/** A create; `collect` keeps the new id for later deletes (the mixed workload does not: reading every answer costs the client, which shares the cores). */
function create (pools: Pools, collect: boolean): Request {
  return {
    method: 'POST',
    headers: JSON_HEADERS,
    setupRequest: (req: Request) => { req.path = '/chats'; req.body = pick(CREATE_BODIES); return req },
    ...(collect ? { onResponse: collectCreated(pools) } : {})
  }
}

/** Creates whose ids are kept in `pools.created`, for the deletes of the delete and mixed scenarios. */
export function fillRequests (pools: Pools): Request[] {
  return [create(pools, true)]
}

/** A delete of a chat made by an earlier create; once those run out, of an id that is gone (a 404, counted). */
function deleteOne (pools: Pools): Request {
  return {
    method: 'DELETE',
    setupRequest: (req: Request) => {
      const id = pools.created.pop()
      if (id === undefined) pools.dry++
      req.path = `/chats/${id ?? 'pool-ran-dry'}`
      return req
    }
  }
}

/** 80% reads (70 get by id, 10 list page), 20% writes (10 patch, 4 replace, 3 create, 3 delete). */
function mixed (context: ScenarioContext): Request {
  const { pools } = context
  const list = listPath(context.dialect, context.filteredList)
  return {
    setupRequest: (req: Request) => {
      const roll = Math.random() * 100
      if (roll < 70) {
        req.method = 'GET'; req.path = `/chats/${pick(pools.seedIds)}`; req.body = undefined
      } else if (roll < 80) {
        req.method = 'GET'; req.path = list; req.body = undefined
      } else if (roll < 90) {
        req.method = 'PATCH'; req.path = `/chats/${pick(pools.seedIds)}`; req.body = pick(PATCH_BODIES); req.headers = withJson(req.headers)
      } else if (roll < 94) {
        req.method = 'PUT'; req.path = `/chats/${pick(pools.seedIds)}`; req.body = pick(REPLACE_BODIES); req.headers = withJson(req.headers)
      } else {
        // Deletes take chats made for them beforehand, one for each create, so the store keeps its size;
        // with none left, a read instead (a create would grow the store towards its memory budget).
        const id = roll < 97 ? undefined : pools.created.pop()
        if (roll < 97) {
          req.method = 'POST'; req.path = '/chats'; req.body = pick(CREATE_BODIES); req.headers = withJson(req.headers)
        } else if (id === undefined) {
          pools.dry++
          req.method = 'GET'; req.path = `/chats/${pick(pools.seedIds)}`; req.body = undefined
        } else {
          req.method = 'DELETE'; req.path = `/chats/${id}`; req.body = undefined
        }
      }
      return req
    }
  }
}

/** The autocannon requests of one scenario. */
export function scenarioRequests (name: ScenarioName, context: ScenarioContext): Request[] {
  const { pools } = context
  switch (name) {
    case 'get': return [getById(pools)]
    case 'list': return [{ method: 'GET', path: listPath(context.dialect, context.filteredList) }]
    case 'create': return [create(pools, true)]
    case 'patch': return [{
      method: 'PATCH',
      headers: JSON_HEADERS,
      setupRequest: (req: Request) => { req.path = `/chats/${pick(pools.seedIds)}`; req.body = pick(PATCH_BODIES); return req }
    }]
    case 'replace': return [{
      method: 'PUT',
      headers: JSON_HEADERS,
      setupRequest: (req: Request) => { req.path = `/chats/${pick(pools.seedIds)}`; req.body = pick(REPLACE_BODIES); return req }
    }]
    case 'delete': return [deleteOne(pools)]
    case 'mixed': return [mixed(context)]
  }
}

/** The ceiling's only scenario: GET by id, over the same ids. */
export function ceilingRequests (seedIds: string[]): Request[] {
  return [getById({ seedIds, created: [], dry: 0 })]
}

/** `run.headers` go with every request (a scenario's own, such as Content-Type, are added to them): the credentials of an auth mode. */
export function autocannonOptions (url: string, title: string, requests: Request[], run: { duration?: number, amount?: number, connections: number, headers?: Record<string, string> }): Options {
  return {
    url,
    title,
    ...(run.headers === undefined || Object.keys(run.headers).length === 0 ? {} : { headers: run.headers }),
    connections: run.connections,
    ...(run.amount === undefined ? { duration: run.duration ?? 10 } : { amount: run.amount }),
    requests,
    timeout: 10
  }
}
