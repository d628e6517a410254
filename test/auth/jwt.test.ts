import { generateKeyPairSync } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { createSigner, type Algorithm } from 'fast-jwt'
import { afterEach, describe, expect, it } from 'vitest'
import type { Config } from '../../src/config.js'
import { ConfigError } from '../../src/config.js'
import { build } from '../helper.js'
import { CHALLENGE, INVALID_TOKEN, SECRET, expectUnauthorized, handMadeToken, logCapture, now, ownerOfCreate } from './helpers.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close(); app = undefined })

const sign = (payload: Record<string, unknown>, key: string = SECRET, algorithm: Algorithm = 'HS256'): string =>
  createSigner({ key, algorithm, noTimestamp: true })(payload)
const get = async (a: FastifyInstance, headers: Record<string, string> = {}, url = '/chats') => await a.inject({ method: 'GET', url, headers })
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

async function jwtApp (overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  app = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, ...overrides })
  return app
}

describe('AUTH_MODE=jwt with JWT_SECRET', () => {
  it('answers 401 with the challenge when no credentials come, on every data route, before the body is read or checked', async () => {
    const a = await jwtApp()
    expectUnauthorized(await get(a), CHALLENGE)
    expectUnauthorized(await get(a, {}, '/chats/some-id'), CHALLENGE)
    for (const method of ['PATCH', 'PUT', 'DELETE'] as const) expectUnauthorized(await a.inject({ method, url: '/chats/x', headers: { 'content-type': 'application/json' }, payload: '{}' }), CHALLENGE)
    // Not a 400 (invalid body), a 415 (not JSON) or a 413 first: who the caller is comes first.
    expectUnauthorized(await a.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'application/json' }, payload: '{"nope":1}' }), CHALLENGE)
    expectUnauthorized(await a.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'text/plain' }, payload: 'x' }), CHALLENGE)
    expectUnauthorized(await a.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'application/json' }, payload: `{"title":"${'x'.repeat(20_000)}"}` }), CHALLENGE)
  })

  it('never asks for credentials on health, docs, OpenAPI and metrics', async () => {
    const a = await jwtApp()
    for (const url of ['/health/live', '/health/ready', '/docs/', '/docs/json', '/openapi.json', '/metrics']) {
      expect((await get(a, {}, url)).statusCode, url).toBe(200)
    }
  })

  it('takes a good token: the owner is its sub', async () => {
    const capture = logCapture()
    app = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET }, { logger: capture.logger })
    const token = sign({ sub: 'alice', exp: now() + 60 })
    expect((await get(app, bearer(token))).statusCode).toBe(200)
    expect(await ownerOfCreate(app, capture.records, bearer(token))).toBe('alice')
    // The scheme is case-insensitive (RFC 7235).
    expect((await get(app, { authorization: `bearer ${token}` })).statusCode).toBe(200)
    for (const algorithm of ['HS384', 'HS512'] as const) expect((await get(app, bearer(sign({ sub: 'alice' }, SECRET, algorithm)))).statusCode, algorithm).toBe(200)
  })

  it('refuses an expired token, past the skew only', async () => {
    const a = await jwtApp()
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice', exp: now() - 40 }))), INVALID_TOKEN)
    expect((await get(a, bearer(sign({ sub: 'alice', exp: now() - 10 })))).statusCode).toBe(200)
    const strict = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_CLOCK_SKEW_S: 0 })
    try {
      expectUnauthorized(await get(strict, bearer(sign({ sub: 'alice', exp: now() - 10 }))), INVALID_TOKEN)
    } finally {
      await strict.close()
    }
  })

  it('refuses a token whose nbf is in the future, past the skew only', async () => {
    const a = await jwtApp()
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice', nbf: now() + 120 }))), INVALID_TOKEN)
    expect((await get(a, bearer(sign({ sub: 'alice', nbf: now() + 10 })))).statusCode).toBe(200)
  })

  it('does not keep a verified token past its exp', async () => {
    const a = await jwtApp({ JWT_CLOCK_SKEW_S: 0 })
    const token = sign({ sub: 'alice', exp: now() + 1 })
    expect((await get(a, bearer(token))).statusCode).toBe(200)
    expect((await get(a, bearer(token))).statusCode).toBe(200)
    await sleep(2100)
    expectUnauthorized(await get(a, bearer(token)), INVALID_TOKEN)
  })

  it('checks iss and aud when JWT_ISSUER and JWT_AUDIENCE are set', async () => {
    const a = await jwtApp({ JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'chats' })
    expect((await get(a, bearer(sign({ sub: 'alice', iss: 'https://issuer.test', aud: 'chats' })))).statusCode).toBe(200)
    expect((await get(a, bearer(sign({ sub: 'alice', iss: 'https://issuer.test', aud: ['other', 'chats'] })))).statusCode).toBe(200)
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice', iss: 'https://evil.test', aud: 'chats' }))), INVALID_TOKEN)
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice', iss: 'https://issuer.test', aud: 'other' }))), INVALID_TOKEN)
    // A claim the token leaves out is no pass.
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice', aud: 'chats' }))), INVALID_TOKEN)
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice', iss: 'https://issuer.test' }))), INVALID_TOKEN)
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice' }))), INVALID_TOKEN)
  })

  it('refuses a token signed with another key, an unsigned one (alg none) and a tampered one', async () => {
    const a = await jwtApp()
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice' }, 'another-secret-of-at-least-32-bytes-xxxxxxxx'))), INVALID_TOKEN)
    expectUnauthorized(await get(a, bearer(handMadeToken({ alg: 'none', typ: 'JWT' }, { sub: 'alice' }))), INVALID_TOKEN)
    // alg none with a signature made with the right secret still names an algorithm the key does not have.
    expectUnauthorized(await get(a, bearer(handMadeToken({ alg: 'none', typ: 'JWT' }, { sub: 'alice' }, SECRET).replace(/\.[^.]*$/, '.c2ln'))), INVALID_TOKEN)
    const good = sign({ sub: 'alice' })
    const [header, , signature] = good.split('.')
    const forged = `${header!}.${Buffer.from('{"sub":"mallory"}').toString('base64url')}.${signature!}`
    expectUnauthorized(await get(a, bearer(forged)), INVALID_TOKEN)
  })

  it('names the owner by JWT_OWNER_CLAIM: a string of 1–128 characters, else 401', async () => {
    const capture = logCapture()
    app = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_OWNER_CLAIM: 'tenant' }, { logger: capture.logger })
    expect(await ownerOfCreate(app, capture.records, bearer(sign({ sub: 'alice', tenant: 'acme' })))).toBe('acme')
    expect(await ownerOfCreate(app, capture.records, bearer(sign({ tenant: 'é'.repeat(128) })))).toBe('é'.repeat(128))
    for (const tenant of [undefined, '', 42, ['acme'], { id: 'acme' }, 'x'.repeat(129)]) {
      expectUnauthorized(await get(app, bearer(sign({ sub: 'alice', tenant }))), INVALID_TOKEN)
    }
  })

  it('refuses malformed Authorization headers and other schemes', async () => {
    const a = await jwtApp()
    for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer not-a-jwt', 'Bearer a.b.c', 'Bearer ....']) expectUnauthorized(await get(a, { authorization: value }), INVALID_TOKEN)
    // Not a bearer token at all: the plain challenge (RFC 6750 §3.1).
    expectUnauthorized(await get(a, { authorization: 'Basic YWxpY2U6c2VjcmV0' }), CHALLENGE)
    // An API key header means nothing in jwt mode.
    expectUnauthorized(await get(a, { 'x-api-key': 'k' }), CHALLENGE)
  })

  it('refuses a secret shorter than 32 bytes, and jwt with no key, naming them', async () => {
    await expect(build({ AUTH_MODE: 'jwt', JWT_SECRET: 'short' })).rejects.toThrow(/JWT_SECRET must be at least 32 bytes/)
    await expect(build({ AUTH_MODE: 'jwt' })).rejects.toThrow(ConfigError)
    await expect(build({ AUTH_MODE: 'jwt' })).rejects.toThrow(/JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL/)
    await expect(build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, JWT_JWKS_URL: 'http://127.0.0.1:1/keys' })).rejects.toThrow(/not several/)
  })
})

describe('AUTH_MODE=jwt with JWT_PUBLIC_KEY', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const rsaPublic = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const rsaPrivate = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ecPublic = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const ecPrivate = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

  it('takes RS256, RS512 and PS256 tokens of the key, and refuses another key\'s', async () => {
    const a = await jwtApp({ JWT_SECRET: '', JWT_PUBLIC_KEY: rsaPublic })
    for (const algorithm of ['RS256', 'RS512', 'PS256'] as const) expect((await get(a, bearer(sign({ sub: 'alice' }, rsaPrivate, algorithm)))).statusCode, algorithm).toBe(200)
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice' }, other, 'RS256'))), INVALID_TOKEN)
    expectUnauthorized(await get(a, bearer(sign({ sub: 'alice' }, ecPrivate, 'ES256'))), INVALID_TOKEN)
  })

  it('refuses an HS256 token signed with the public key as its secret (algorithm confusion), and alg none', async () => {
    const a = await jwtApp({ JWT_SECRET: '', JWT_PUBLIC_KEY: rsaPublic })
    for (const alg of ['HS256', 'HS512']) expectUnauthorized(await get(a, bearer(handMadeToken({ alg, typ: 'JWT' }, { sub: 'alice' }, rsaPublic))), INVALID_TOKEN)
    expectUnauthorized(await get(a, bearer(handMadeToken({ alg: 'none' }, { sub: 'alice' }))), INVALID_TOKEN)
  })

  it('takes ES256 with an EC key and EdDSA with an Ed25519 key, the PEM on one line with \\n', async () => {
    const a = await jwtApp({ JWT_SECRET: '', JWT_PUBLIC_KEY: ecPublic.replaceAll('\n', '\\n') })
    expect((await get(a, bearer(sign({ sub: 'alice' }, ecPrivate, 'ES256')))).statusCode).toBe(200)
    expectUnauthorized(await get(a, bearer(handMadeToken({ alg: 'HS256' }, { sub: 'alice' }, ecPublic))), INVALID_TOKEN)
    await a.close()
    const ed = generateKeyPairSync('ed25519')
    app = await jwtApp({ JWT_SECRET: '', JWT_PUBLIC_KEY: ed.publicKey.export({ type: 'spki', format: 'pem' }).toString() })
    const edPrivate = ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    expect((await get(app, bearer(sign({ sub: 'alice' }, edPrivate, 'EdDSA')))).statusCode).toBe(200)
  })

  it('stops the start on a PEM that is not a public key, naming JWT_PUBLIC_KEY', async () => {
    await expect(build({ AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: 'not a key' })).rejects.toThrow(/JWT_PUBLIC_KEY/)
  })
})
