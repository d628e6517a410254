import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { build } from '../helper.js'
import { INVALID_TOKEN, expectUnauthorized, handMadeToken, now , signer } from './helpers.js'

interface Key { kid: string, privatePem: string, jwk: Record<string, unknown> }
function rsaKey (kid: string): Key {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } }
}
const signWith = (key: Key, payload: Record<string, unknown>): string => signer({ key: key.privatePem, algorithm: 'RS256', kid: key.kid })(payload)

let app: FastifyInstance | undefined
let server: Server | undefined
const sockets = new Set<Socket>()
afterEach(async () => {
  await app?.close()
  app = undefined
  for (const s of sockets) s.destroy()
  sockets.clear()
  await new Promise<void>((resolve) => { if (server === undefined) resolve(); else server.close(() => { resolve() }) })
  server = undefined
})

/** A JWKS server on loopback; `answer` false: it takes connections and never answers. */
async function jwksServer (state: { keys: Key[], answer: boolean, fetches: number }): Promise<string> {
  server = createServer((req, res) => {
    state.fetches++
    if (!state.answer) return
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }))
  })
  server.on('connection', (socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/tenants/keys.json`
}

const get = async (a: FastifyInstance, token: string) => await a.inject({ method: 'GET', url: '/chats', headers: { authorization: `Bearer ${token}` } })

describe('AUTH_MODE=jwt with JWT_JWKS_URL', () => {
  it('picks the key by kid, caches it, fetches again for a new kid, and stops taking a removed one', async () => {
    const k1 = rsaKey('k1')
    const k2 = rsaKey('k2')
    const state = { keys: [k1], answer: true, fetches: 0 }
    const url = await jwksServer(state)
    // A cache time long enough that a busy machine gets from the first fetch to the check before the sleep.
    app = await build({ AUTH_MODE: 'jwt', JWT_JWKS_URL: url }, { auth: { jwksCacheMs: 1500, jwksUnknownKidCooldownMs: 0 } })
    expect((await get(app, signWith(k1, { sub: 'alice', exp: now() + 60 }))).statusCode).toBe(200)
    expect((await get(app, signWith(k1, { sub: 'bob', exp: now() + 60 }))).statusCode).toBe(200)
    expect(state.fetches).toBe(1)

    // Rotation: k2 appears, k1 goes.
    state.keys = [k2]
    expect((await get(app, signWith(k2, { sub: 'alice' }))).statusCode).toBe(200)
    expect(state.fetches).toBe(2)
    // k1 stays usable while cached; once the cache time is over, the JWKS no longer has it: its
    // tokens are refused at once, also one verified before.
    const oldToken = signWith(k1, { sub: 'carol' })
    expect((await get(app, oldToken)).statusCode).toBe(200)
    await sleep(1600)
    expectUnauthorized(await get(app, oldToken), INVALID_TOKEN)
    expectUnauthorized(await get(app, signWith(k1, { sub: 'alice', exp: now() + 60 })), INVALID_TOKEN)
    expect((await get(app, signWith(k2, { sub: 'alice' }))).statusCode).toBe(200)
  })

  it('serves a kid\'s last good key one cache time more while the JWKS cannot be reached, then 503', async () => {
    const k1 = rsaKey('k1')
    const state = { keys: [k1], answer: true, fetches: 0 }
    app = await build({ AUTH_MODE: 'jwt', JWT_JWKS_URL: await jwksServer(state) }, { auth: { jwksCacheMs: 1000, jwksTimeoutMs: 100, jwksUnknownKidCooldownMs: 0 } })
    expect((await get(app, signWith(k1, { sub: 'alice' }))).statusCode).toBe(200)
    state.answer = false
    await sleep(1100)
    // Past the cache time: the fetch times out, and the last good key serves.
    expect((await get(app, signWith(k1, { sub: 'bob' }))).statusCode).toBe(200)
    expect(state.fetches).toBeGreaterThanOrEqual(2)
    await sleep(1000)
    // Past twice the cache time: no key can be vouched for.
    const res = await get(app, signWith(k1, { sub: 'carol' }))
    expect(res.statusCode).toBe(503)
    state.answer = true
    expect((await get(app, signWith(k1, { sub: 'dave' }))).statusCode).toBe(200)
  })

  it('refuses an unknown kid, a token with no kid, a key the JWKS does not sign with, and HS256 under an RSA kid', async () => {
    const k1 = rsaKey('k1')
    const state = { keys: [k1], answer: true, fetches: 0 }
    app = await build({ AUTH_MODE: 'jwt', JWT_JWKS_URL: await jwksServer(state) }, { auth: { jwksUnknownKidCooldownMs: 0 } })
    const stranger = rsaKey('k9')
    expectUnauthorized(await get(app, signWith(stranger, { sub: 'alice' })), INVALID_TOKEN)
    expectUnauthorized(await get(app, signer({ key: k1.privatePem, algorithm: 'RS256' })({ sub: 'alice' })), INVALID_TOKEN)
    // Signed by another key but claiming k1's kid.
    expectUnauthorized(await get(app, signWith({ ...stranger, kid: 'k1' }, { sub: 'alice' })), INVALID_TOKEN)
    expectUnauthorized(await get(app, handMadeToken({ alg: 'HS256', kid: 'k1' }, { sub: 'alice' }, JSON.stringify(k1.jwk))), INVALID_TOKEN)
    expectUnauthorized(await get(app, handMadeToken({ alg: 'none', kid: 'k1' }, { sub: 'alice' })), INVALID_TOKEN)
  })

  it('fetches for unknown kids at most once per cooldown: random kids cannot hammer the JWKS server', async () => {
    const k1 = rsaKey('k1')
    const state = { keys: [k1], answer: true, fetches: 0 }
    app = await build({ AUTH_MODE: 'jwt', JWT_JWKS_URL: await jwksServer(state) }, { auth: { jwksUnknownKidCooldownMs: 60_000 } })
    const stranger = rsaKey('x')
    for (let i = 0; i < 20; i++) expectUnauthorized(await get(app, signWith({ ...stranger, kid: `random-${i}` }, { sub: 'alice' })), INVALID_TOKEN)
    expect(state.fetches).toBe(1)
  })

  it('answers 503 within the timeout when the JWKS server never answers, and holds no request past it', async () => {
    const k1 = rsaKey('k1')
    const state = { keys: [k1], answer: false, fetches: 0 }
    app = await build({ AUTH_MODE: 'jwt', JWT_JWKS_URL: await jwksServer(state) }, { auth: { jwksTimeoutMs: 300 } })
    const started = Date.now()
    const answers = await Promise.all([get(app, signWith(k1, { sub: 'alice' })), get(app, signWith(k1, { sub: 'bob' }))])
    expect(Date.now() - started).toBeLessThan(2000)
    for (const res of answers) {
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ type: '/problems/unavailable' })
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
    }
    // Once it answers, the same token works: a failed fetch is not kept.
    state.answer = true
    expect((await get(app, signWith(k1, { sub: 'alice' }))).statusCode).toBe(200)
  })

  it('answers 503 when the JWKS URL refuses connections', async () => {
    const k1 = rsaKey('k1')
    const state = { keys: [k1], answer: true, fetches: 0 }
    const url = await jwksServer(state)
    await new Promise<void>((resolve) => server!.close(() => { resolve() }))
    server = undefined
    app = await build({ AUTH_MODE: 'jwt', JWT_JWKS_URL: url })
    const res = await get(app, signWith(k1, { sub: 'alice' }))
    expect(res.statusCode).toBe(503)
  })
})
