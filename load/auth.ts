import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { createSigner } from 'fast-jwt'
import type { LoadAuthMode } from './args.js'

/** What a service of one auth mode is started with, and what every request to it carries. */
export interface AuthSetup {
  mode: LoadAuthMode
  env: Record<string, string>
  headers: Record<string, string>
}

/**
 * jwt: a random HS256 secret and one token signed with it (valid a day), as `Authorization: Bearer`;
 * api-key: a random key, its SHA-256 line in a keys file in `dir`, as `X-API-Key`; none: nothing.
 * One owner per mode, so every scenario's chats are that owner's.
 */
export function authSetup (mode: LoadAuthMode, dir: string): AuthSetup {
  if (mode === 'jwt') {
    const secret = randomBytes(32).toString('hex')
    const sign = createSigner({ key: secret, algorithm: 'HS256' })
    const claims: Record<string, unknown> = { sub: 'load-jwt', exp: Math.floor(Date.now() / 1000) + 86_400 }
    const token = sign(claims)
    return { mode, env: { AUTH_MODE: 'jwt', JWT_SECRET: secret }, headers: { authorization: `Bearer ${token}` } }
  }
  if (mode === 'api-key') {
    const { file, keys } = apiKeysFile(dir, ['load-api-key'])
    return { mode, env: { AUTH_MODE: 'api-key', API_KEYS_FILE: file }, headers: { 'x-api-key': keys.get('load-api-key')! } }
  }
  return { mode, env: { AUTH_MODE: 'none' }, headers: {} }
}

/** A keys file in `dir` with one random key per owner (its SHA-256 line): the keys, by owner, to send as `X-API-Key`. */
export function apiKeysFile (dir: string, owners: readonly string[]): { file: string, keys: Map<string, string> } {
  const keys = new Map(owners.map((owner) => [owner, randomBytes(24).toString('hex')]))
  const file = path.join(dir, 'api-keys.txt')
  writeFileSync(file, `# the benchmark's keys\n${[...keys].map(([owner, key]) => `${owner} ${createHash('sha256').update(key).digest('hex')}\n`).join('')}`)
  return { file, keys }
}
