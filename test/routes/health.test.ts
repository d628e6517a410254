import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, it, expect } from 'vitest'
import { build } from '../helper.js'

describe('health routes', () => {
  let app: FastifyInstance

  beforeEach(async () => { app = await build() })
  afterEach(async () => { await app.close() })

  it('GET /health/live answers 200 {"status":"ok"}', async () => {
    const res = await app.inject({ url: '/health/live' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  it('GET /health/ready answers 200 {"status":"ok"} while serving', async () => {
    const res = await app.inject({ url: '/health/ready' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  it('GET /health/ready answers a 503 problem with Retry-After once shutting down', async () => {
    app.lifecycle.shuttingDown = true
    const res = await app.inject({ url: '/health/ready' })
    expect(res.statusCode).toBe(503)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.headers['retry-after']).toBe('5')
    expect(res.json()).toMatchObject({ type: '/problems/unavailable', status: 503 })
  })

  it('keeps GET /health/live at 200 while shutting down: the process is still up', async () => {
    app.lifecycle.shuttingDown = true
    const res = await app.inject({ url: '/health/live' })
    expect(res.statusCode).toBe(200)
  })

  it('refuses other requests with 503 once shutting down', async () => {
    app.lifecycle.shuttingDown = true
    for (const url of ['/chats', '/metrics', '/openapi.json']) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(503)
      expect(res.json()).toMatchObject({ type: '/problems/unavailable' })
      expect(res.headers['x-request-id']).toEqual(expect.any(String))
    }
  })

  it('turns to shutting down when the app starts closing', async () => {
    const other = await build()
    expect(other.lifecycle.shuttingDown).toBe(false)
    await other.close()
    expect(other.lifecycle.shuttingDown).toBe(true)
  })
})
