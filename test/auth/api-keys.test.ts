import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config.js'
import { parseApiKeys } from '../../src/plugins/auth.js'
import { build } from '../helper.js'
import { CHALLENGE, INVALID_TOKEN, SECRET, expectUnauthorized, logCapture, ownerOfCreate , signer } from './helpers.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-keys-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
let app: FastifyInstance | undefined
afterEach(async () => { await app?.close(); app = undefined })

const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
const ALICE = 'ak_0123456789abcdef0123456789abcdef'
const BOB = 'bk_fedcba9876543210fedcba9876543210'
function keysFile (lines: string[]): string {
  const file = path.join(dir, `keys-${Math.random().toString(36).slice(2)}.txt`)
  writeFileSync(file, lines.join('\n'))
  return file
}
const standardFile = (): string => keysFile([
  '# owner  sha256 of the key',
  `alice ${sha(ALICE)}`,
  '',
  `   bob\t${sha(BOB).toUpperCase()}   # upper-case hex is taken too`,
  '   '
])
const get = async (a: FastifyInstance, headers: Record<string, string>) => await a.inject({ method: 'GET', url: '/chats', headers })

describe('AUTH_MODE=api-key', () => {
  it('takes a key from X-API-Key or as a Bearer value, the owner from its line; comments and blank lines skipped', async () => {
    const capture = logCapture()
    app = await build({ AUTH_MODE: 'api-key', API_KEYS_FILE: standardFile() }, { logger: capture.logger })
    expect((await get(app, { 'x-api-key': ALICE })).statusCode).toBe(200)
    expect((await get(app, { authorization: `Bearer ${BOB}` })).statusCode).toBe(200)
    expect(await ownerOfCreate(app, capture.records, { 'x-api-key': ALICE })).toBe('alice')
    expect(await ownerOfCreate(app, capture.records, { authorization: `Bearer ${BOB}` })).toBe('bob')
  })

  it('refuses an unknown key, a key\'s hash sent as the key, no key, and an empty header', async () => {
    app = await build({ AUTH_MODE: 'api-key', API_KEYS_FILE: standardFile() })
    expectUnauthorized(await get(app, { 'x-api-key': 'nope' }), INVALID_TOKEN)
    expectUnauthorized(await get(app, { 'x-api-key': sha(ALICE) }), INVALID_TOKEN)
    expectUnauthorized(await get(app, { authorization: `Bearer ${ALICE}x` }), INVALID_TOKEN)
    expectUnauthorized(await get(app, { 'x-api-key': '' }), INVALID_TOKEN)
    expectUnauthorized(await get(app, {}), CHALLENGE)
    // A JWT means nothing in api-key mode: it is looked up as a key, and is none.
    expectUnauthorized(await get(app, { authorization: `Bearer ${signer({ key: SECRET })({ sub: 'alice' })}` }), INVALID_TOKEN)
  })

  it('reads the file again on SIGHUP: a key taken out stops working at once, a new one works', async () => {
    const file = standardFile()
    app = await build({ AUTH_MODE: 'api-key', API_KEYS_FILE: file })
    expect((await get(app, { 'x-api-key': ALICE })).statusCode).toBe(200)
    const carol = 'ck_new-key-for-carol-0000000000000'
    writeFileSync(file, `bob ${sha(BOB)}\ncarol ${sha(carol)}\n`)
    process.emit('SIGHUP', 'SIGHUP')
    expectUnauthorized(await get(app, { 'x-api-key': ALICE }), INVALID_TOKEN)
    expect((await get(app, { 'x-api-key': carol })).statusCode).toBe(200)
    expect((await get(app, { 'x-api-key': BOB })).statusCode).toBe(200)
    // A file that cannot be read keeps the keys in use (and logs why).
    writeFileSync(file, 'this is not a keys line\n')
    process.emit('SIGHUP', 'SIGHUP')
    expect((await get(app, { 'x-api-key': carol })).statusCode).toBe(200)
  })

  it('stops listening for SIGHUP once closed', async () => {
    const before = process.listenerCount('SIGHUP')
    const a = await build({ AUTH_MODE: 'api-key', API_KEYS_FILE: standardFile() })
    expect(process.listenerCount('SIGHUP')).toBe(before + 1)
    await a.close()
    expect(process.listenerCount('SIGHUP')).toBe(before)
  })

  it('writes no key, token or hash of one to the log', async () => {
    const capture = logCapture()
    app = await build({ AUTH_MODE: 'jwt,api-key', JWT_SECRET: SECRET, API_KEYS_FILE: standardFile(), LOG_LEVEL: 'debug' }, { logger: capture.logger })
    const token = signer({ key: SECRET })({ sub: 'alice' })
    await get(app, { 'x-api-key': ALICE })
    await get(app, { 'x-api-key': 'wrong-key-in-the-clear' })
    await get(app, { authorization: `Bearer ${token}` })
    await app.inject({ method: 'POST', url: '/chats', headers: { authorization: `Bearer ${BOB}`, 'content-type': 'application/json' }, payload: { title: 't' } })
    // Whatever logs the request's headers goes through the redaction too.
    app.log.info({ headers: { authorization: `Bearer ${token}`, 'x-api-key': ALICE } }, 'a line with headers')
    const text = capture.text()
    expect(text).toContain('"audit"')
    expect(text).toContain('[redacted]')
    for (const secret of [ALICE, BOB, sha(ALICE), token, 'wrong-key-in-the-clear', SECRET]) expect(text).not.toContain(secret)
  })

  it('stops the start on a missing or broken file, naming it and the line', async () => {
    await expect(build({ AUTH_MODE: 'api-key' })).rejects.toThrow(/AUTH_MODE=api-key needs API_KEYS_FILE/)
    await expect(build({ AUTH_MODE: 'api-key', API_KEYS_FILE: path.join(dir, 'missing.txt') })).rejects.toThrow(ConfigError)
    await expect(build({ AUTH_MODE: 'api-key', API_KEYS_FILE: keysFile(['alice not-a-hash']) })).rejects.toThrow(/line 1: .*64 hex digits/)
    expect(() => parseApiKeys(`alice ${sha(ALICE)}\n\n# x\nbob ${sha(ALICE)}`)).toThrow(/line 4: the same key is listed twice/)
    expect(() => parseApiKeys(`alice ${sha(ALICE)} extra`)).toThrow(/line 1: expected/)
    expect(() => parseApiKeys(`${'o'.repeat(129)} ${sha(ALICE)}`)).toThrow(/1–128 characters/)
    expect(parseApiKeys('# nothing\n\n').size).toBe(0)
  })
})

describe('AUTH_MODE=jwt,api-key', () => {
  it('takes a JWT-shaped Bearer value as a JWT and anything else as a key', async () => {
    const capture = logCapture()
    app = await build({ AUTH_MODE: 'jwt,api-key', JWT_SECRET: SECRET, API_KEYS_FILE: standardFile() }, { logger: capture.logger })
    const token = signer({ key: SECRET })({ sub: 'jwt-user' })
    expect(await ownerOfCreate(app, capture.records, { authorization: `Bearer ${token}` })).toBe('jwt-user')
    expect(await ownerOfCreate(app, capture.records, { authorization: `Bearer ${ALICE}` })).toBe('alice')
    expect(await ownerOfCreate(app, capture.records, { 'x-api-key': BOB })).toBe('bob')
    // A JWT-shaped value is never looked up as a key, and a bad JWT is a 401.
    expectUnauthorized(await get(app, { authorization: `Bearer ${signer({ key: 'x'.repeat(40) })({ sub: 'a' })}` }), INVALID_TOKEN)
    expectUnauthorized(await get(app, {}), CHALLENGE)
  })
})
