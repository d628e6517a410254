import { createHmac } from 'node:crypto'
import { createSigner, type Algorithm } from 'fast-jwt'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'
import { LOG_REDACT } from '../../src/request-log.js'

export const SECRET = 'a-test-secret-of-at-least-32-bytes-0123456789'
export const CHALLENGE = 'Bearer realm="chats"'
export const INVALID_TOKEN = 'Bearer realm="chats", error="invalid_token"'

const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A JWT made by hand: any header (alg none, a lying alg), any payload, HS-signed with `secret` or unsigned. */
export function handMadeToken (header: Record<string, unknown>, payload: Record<string, unknown>, secret?: string | Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  if (secret === undefined) return `${input}.`
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[header.alg as string] ?? 'sha256'
  return `${input}.${createHmac(digest, secret).update(input).digest('base64url')}`
}

export const now = (): number => Math.floor(Date.now() / 1000)

/** The log lines an app writes, parsed; with the server's redaction. */
export function logCapture (): { logger: { level: string, stream: Writable, redact: { paths: string[], censor: string } }, text: () => string, records: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _encoding, callback) { chunks.push(chunk.toString()); callback() } })
  const text = (): string => chunks.join('')
  return {
    logger: { level: 'debug', stream, redact: { paths: LOG_REDACT, censor: '[redacted]' } },
    text,
    records: () => text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}

/** The owner a request acted for, as the audit line of the create it made says. */
export async function ownerOfCreate (app: FastifyInstance, records: () => Record<string, unknown>[], headers: Record<string, string>): Promise<string | undefined> {
  const res = await app.inject({ method: 'POST', url: '/chats', headers: { 'content-type': 'application/json', ...headers }, payload: { title: 'owned' } })
  expect(res.statusCode, res.body).toBe(201)
  const audit = records().map((r) => r.audit as { owner?: string, chatId?: string } | undefined).filter((a) => a !== undefined)
  return audit.find((a) => res.headers.location === `/chats/${a.chatId ?? ''}`)?.owner
}

export function expectUnauthorized (res: LightMyRequestResponse, challenge: string): void {
  expect(res.statusCode, res.body).toBe(401)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({ type: '/problems/unauthorized', title: 'Unauthorized', status: 401 })
  expect(res.headers['www-authenticate']).toBe(challenge)
  expect(res.headers['x-content-type-options']).toBe('nosniff')
}

/** fast-jwt's signer, typed for claim objects. */
export function signer (options: { key: string, algorithm?: Algorithm, kid?: string, noTimestamp?: boolean }): (payload: Record<string, unknown>) => string {
  const sign = createSigner({ ...options })
  return (payload) => sign(payload)
}
