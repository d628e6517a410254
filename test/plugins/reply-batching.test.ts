import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import replyBatching from '../../src/plugins/reply-batching.js'
import { build } from '../helper.js'

/** A bare app with the plugin, one route that notes when it handles a request, and a hook that notes when an answer goes on. */
async function tracingApp (batch: boolean, events: string[]): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(replyBatching, { config: loadConfig({}, { BATCH_REPLIES: batch }) })
  app.get<{ Params: { n: string } }>('/:n', async (request) => {
    events.push(`handled ${request.params.n}`)
    return { n: request.params.n }
  })
  app.addHook('onSend', (request, _reply, payload, done) => {
    events.push(`sent ${(request.params as { n: string }).n}`)
    done(null, payload)
  })
  return app
}

const apps: FastifyInstance[] = []
afterEach(async () => { await Promise.all(apps.splice(0).map(async (app) => { await app.close() })) })

/** Requests `ns` in one turn of a tracing app; answers what happened in order, with 'turn ends' where the turn ended, and the answers. */
async function oneTurn (batch: boolean, ns: number[]): Promise<{ events: string[], answers: string[] }> {
  const events: string[] = []
  const app = await tracingApp(batch, events)
  apps.push(app)
  await app.ready()
  setImmediate(() => { events.push('turn ends') })
  const answers = await Promise.all(ns.map(async (n) => (await app.inject({ url: `/${n}` })).json<{ n: string }>().n))
  return { events, answers }
}

describe('reply batching', () => {
  it('holds every answer of a turn until the turn ends, then sends them all, in order', async () => {
    const { events, answers } = await oneTurn(true, [1, 2, 3, 4])
    expect(answers).toEqual(['1', '2', '3', '4'])
    expect(events).toEqual(['handled 1', 'handled 2', 'handled 3', 'handled 4', 'turn ends', 'sent 1', 'sent 2', 'sent 3', 'sent 4'])
  })

  it('with BATCH_REPLIES=false sends each answer as soon as it is ready', async () => {
    const { events } = await oneTurn(false, [1, 2])
    // Every answer went before the turn ended.
    expect([...events].sort()).toEqual(['handled 1', 'handled 2', 'sent 1', 'sent 2'])
  })

  it('holds the service\'s answers of every kind, errors included, and sends them whole', async () => {
    const app = await build({ BATCH_REPLIES: true })
    apps.push(app)
    const [created, missing, unknown] = await Promise.all([
      app.inject({ method: 'POST', url: '/chats', payload: { title: 'held' } }),
      app.inject({ url: '/chats/nope' }),
      app.inject({ url: '/no/such/route' })
    ])
    expect(created.statusCode).toBe(201)
    expect(created.json()).toMatchObject({ title: 'held' })
    expect(missing.statusCode).toBe(404)
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(unknown.statusCode).toBe(404)
  })
})
