import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { versionOf } from '../../src/plugins/audit.js'
import { build } from '../helper.js'
import { CHALLENGE, INVALID_TOKEN, SECRET, expectUnauthorized, logCapture , signer } from './helpers.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-access-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
let app: FastifyInstance | undefined
afterEach(async () => { await app?.close(); app = undefined })
const token = (sub: string): string => signer({ key: SECRET })({ sub })

describe('the start', () => {
  it('stops with NODE_ENV=production and no AUTH_MODE, naming it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError)
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_MODE must be set with NODE_ENV=production/)
    expect(loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'none' }).AUTH_MODE).toBe('none')
    expect(loadConfig({}).AUTH_MODE).toBe('none')
    expect(() => loadConfig({ AUTH_MODE: 'basic' })).toThrow(/AUTH_MODE must be one of none, jwt, api-key, jwt,api-key/)
    expect(() => loadConfig({ AUTH_MODE: 'jwt,api-key', JWT_SECRET: SECRET })).toThrow(/needs API_KEYS_FILE/)
    expect(() => loadConfig({ AUTH_MODE: 'jwt', JWT_JWKS_URL: 'file:///etc/keys' })).toThrow(/JWT_JWKS_URL must be an http/)
    expect(() => loadConfig({ MAX_ITEMS_PER_OWNER: '-1' })).toThrow(/MAX_ITEMS_PER_OWNER/)
    expect(loadConfig({ MAX_ITEMS_PER_OWNER: '5' }).MAX_ITEMS_PER_OWNER).toBe(5)
  })

  it('the server process exits 1 with the message on stderr', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('AUTH_MODE must be set with NODE_ENV=production')
    const broken = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0', AUTH_MODE: 'api-key', API_KEYS_FILE: path.join(dir, 'nope.txt') },
      encoding: 'utf8',
      timeout: 20_000
    })
    expect(broken.status).toBe(1)
    expect(broken.stderr).toMatch(/API_KEYS_FILE .*nope\.txt cannot be read/)
  })
})

describe('METRICS_TOKEN', () => {
  it('asks /metrics for the token when set, whatever AUTH_MODE, and nothing else', async () => {
    app = await build({ METRICS_TOKEN: 'scrape-me-0123456789' })
    expectUnauthorized(await app.inject({ method: 'GET', url: '/metrics' }), CHALLENGE)
    expectUnauthorized(await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong' } }), INVALID_TOKEN)
    const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-me-0123456789' } })
    expect(ok.statusCode).toBe(200)
    expect(ok.body).toContain('chat_http_requests_total')
    expect((await app.inject({ method: 'GET', url: '/chats' })).statusCode).toBe(200)
  })

  it('leaves /metrics open without it, also with auth on', async () => {
    app = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET })
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200)
  })
})

describe('rate limits by owner', () => {
  it('counts authenticated requests per owner and the others per address', async () => {
    app = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, RATE_LIMIT_READ_MAX: 2 })
    const as = async (sub: string) => await app!.inject({ method: 'GET', url: '/chats', headers: { authorization: `Bearer ${token(sub)}` } })
    expect([(await as('alice')).statusCode, (await as('alice')).statusCode, (await as('alice')).statusCode]).toEqual([200, 200, 429])
    // Same address, another owner: a bucket of its own.
    const bob = await as('bob')
    expect(bob.statusCode).toBe(200)
    expect(bob.headers['ratelimit-remaining']).toBe('1')
    // Requests refused for their credentials are counted by address, so guessing is limited too.
    const guess = async () => (await app!.inject({ method: 'GET', url: '/chats', headers: { authorization: 'Bearer guess.guess.guess' } })).statusCode
    expect([await guess(), await guess(), await guess()]).toEqual([401, 401, 429])
    expect((await as('carol')).statusCode).toBe(200)
  })

  it('keeps the allow-list by address for authenticated requests', async () => {
    app = await build({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, RATE_LIMIT_READ_MAX: 1, RATE_LIMIT_ALLOW_LIST: '127.0.0.1' })
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'GET', url: '/chats', headers: { authorization: `Bearer ${token('alice')}` } })).statusCode).toBe(200)
  })
})

describe('the audit line', () => {
  it('says owner, action, chat id, new version and request id for every write that took effect, and nothing for the others', async () => {
    const capture = logCapture()
    const keys = path.join(dir, 'keys.txt')
    writeFileSync(keys, `alice ${createHash('sha256').update('alice-key').digest('hex')}\n`)
    app = await build({ AUTH_MODE: 'api-key', API_KEYS_FILE: keys }, { logger: { ...capture.logger, level: 'info' } })
    const headers = { 'x-api-key': 'alice-key', 'content-type': 'application/json' }
    const created = await app.inject({ method: 'POST', url: '/chats', headers: { ...headers, 'x-request-id': 'req-create' }, payload: { title: 'a' } })
    const id = created.json<{ id: string }>().id
    await app.inject({ method: 'PATCH', url: `/chats/${id}`, headers: { ...headers, 'x-request-id': 'req-patch' }, payload: { priority: 'high' } })
    await app.inject({ method: 'PUT', url: `/chats/${id}`, headers: { ...headers, 'x-request-id': 'req-put' }, payload: { title: 'b' } })
    await app.inject({ method: 'PATCH', url: `/chats/${id}`, headers: { ...headers, 'if-match': '"1"' }, payload: { priority: 'low' } })
    await app.inject({ method: 'GET', url: `/chats/${id}`, headers })
    await app.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'application/json' }, payload: { title: 'anonymous' } })
    await app.inject({ method: 'DELETE', url: `/chats/${id}`, headers: { 'x-api-key': 'alice-key', 'x-request-id': 'req-delete' } })
    await app.inject({ method: 'DELETE', url: `/chats/${id}`, headers: { 'x-api-key': 'alice-key' } })
    const audit = capture.records().filter((r) => r.audit !== undefined)
    expect(audit.map((r) => r.audit)).toEqual([
      { owner: 'alice', action: 'create', chatId: id, version: 1, requestId: 'req-create' },
      { owner: 'alice', action: 'update', chatId: id, version: 2, requestId: 'req-patch' },
      { owner: 'alice', action: 'replace', chatId: id, version: 3, requestId: 'req-put' },
      { owner: 'alice', action: 'delete', chatId: id, version: null, requestId: 'req-delete' }
    ])
    for (const line of audit) expect(line).toMatchObject({ level: 30, msg: 'audit' })
  })

  it('reads versions from strong and weak ETags only', () => {
    expect(versionOf('"12"')).toBe(12)
    expect(versionOf('W/"3"')).toBe(3)
    expect(versionOf('12')).toBeUndefined()
    expect(versionOf(undefined)).toBeUndefined()
  })
})
