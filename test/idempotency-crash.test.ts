import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChangeEvent, ChangePage, Chat } from '../src/store/types.js'
import { removeTempDirs, tempDir } from './store/durable/helpers.js'
import { buildService, ServiceProcess } from './support/service-process.js'

/**
 * Idempotent creates across a `kill -9`, over real HTTP: the built service runs with DATA_DIR;
 * clients send creates, each with its own Idempotency-Key; the process is killed at a random
 * moment, started again on the same directory, and every create is retried with its key. Each key
 * makes exactly one chat, and a retry whose first try was answered gets that same answer.
 */
const ROUNDS = 3
const KEYS = 24

beforeAll(buildService, 120_000)
afterAll(removeTempDirs)

const env = (dir: string, fsync: string): Record<string, string> => ({ DATA_DIR: dir, FSYNC: fsync, RATE_LIMIT_ALLOW_LIST: '127.0.0.1,::1' })

async function post (base: string, key: string, title: string): Promise<{ status: number, body: string, replayed: boolean, location: string | null }> {
  const res = await fetch(`${base}/chats`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ title }) })
  return { status: res.status, body: await res.text(), replayed: res.headers.get('idempotent-replayed') === 'true', location: res.headers.get('location') }
}

describe('Idempotency-Key across a kill -9', () => {
  for (const fsync of ['always', 'everysec']) {
    it(`never makes two chats of one key, and answers a retry with the first answer when it was given (FSYNC=${fsync})`, async () => {
      const dir = tempDir()
      let answered = 0
      for (let round = 0; round < ROUNDS; round++) {
        const service = await ServiceProcess.start(env(dir, fsync))
        const acked = new Map<string, Awaited<ReturnType<typeof post>>>()
        const keys = Array.from({ length: KEYS }, (_, i) => `r${round}-k${i}`)
        const sending = keys.map(async (key, i) => {
          await new Promise((resolve) => setTimeout(resolve, 4 * i))
          const answer = await post(service.base, key, `title ${key}`).catch(() => undefined)
          if (answer?.status === 201) acked.set(key, answer)
        })
        // The kill comes once some creates are answered (a random number of them), while others are on their way.
        const target = 1 + Math.floor(Math.random() * KEYS / 2)
        for (const deadline = Date.now() + 5000; acked.size < target && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 1))
        const exited = new Promise((resolve) => service.child.once('exit', resolve))
        service.child.kill('SIGKILL')
        await exited
        await Promise.all(sending)
        answered += acked.size

        const again = await ServiceProcess.start(env(dir, fsync))
        try {
          for (const key of keys) {
            const retry = await post(again.base, key, `title ${key}`)
            expect(retry.status).toBe(201)
            const first = acked.get(key)
            if (first !== undefined) {
              expect(retry.replayed).toBe(true)
              expect(retry.body).toBe(first.body)
              expect(retry.location).toBe(first.location)
            }
            // The same key with another body is still refused.
            expect((await post(again.base, key, 'another body')).status).toBe(422)
          }
          const chats: Chat[] = []
          for (let offset = 0; ; offset += 100) {
            const page = await (await fetch(`${again.base}/chats?limit=100&offset=${offset}`)).json() as { items: Chat[] }
            chats.push(...page.items)
            if (page.items.length < 100) break
          }
          for (const key of keys) expect(chats.filter((c) => c.title === `title ${key}`)).toHaveLength(1)
          // The feed holds each create once.
          const created: ChangeEvent[] = []
          for (let after: string | undefined; ;) {
            const page = await (await fetch(`${again.base}/changes?limit=1000${after === undefined ? '' : `&after=${after}`}`)).json() as ChangePage
            created.push(...page.items.filter((c) => c.type === 'created'))
            if (page.items.length === 0) break
            after = page.nextAfter
          }
          for (const key of keys) expect(created.filter((c) => c.chat?.title === `title ${key}`)).toHaveLength(1)
        } finally {
          await again.stop()
        }
      }
      // Some creates were answered before the kill (the rest were cut off by it).
      expect(answered).toBeGreaterThan(0)
    }, 120_000)
  }
})
