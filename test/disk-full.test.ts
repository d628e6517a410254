import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Chat, ListPage } from '../src/store/types.js'
import { build } from './helper.js'

/**
 * A real full disk: DATA_DIR on a small tmpfs (mounting one needs root, as CI and these machines
 * run; elsewhere the test is skipped and says so), filled up by another file while clients write.
 */
const mountPoint = mkdtempSync(join(tmpdir(), 'chat-tmpfs-'))
const mounted = ((): boolean => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'ignore' })
    return true
  } catch {
    console.warn('disk-full test skipped: cannot mount a tmpfs here (needs root)')
    return false
  }
})()
const filler = join(mountPoint, 'filler')

afterAll(() => {
  if (mounted) execFileSync('umount', [mountPoint])
  rmSync(mountPoint, { recursive: true, force: true })
})

/** Takes every byte the file system has left. */
function fillDisk (): void {
  const { bavail, bsize } = statfsSync(mountPoint)
  try {
    writeFileSync(filler, Buffer.alloc(bavail * bsize))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
}

describe.skipIf(!mounted)('a full disk under DATA_DIR (a real tmpfs), over real sockets', () => {
  let app: FastifyInstance
  let base: string
  const dir = join(mountPoint, 'data')
  const post = async (body: object): Promise<Response> =>
    await fetch(`${base}/chats`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  beforeAll(async () => {
    app = await build({ DATA_DIR: dir, FSYNC: 'always' })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  })

  afterAll(async () => { await app.close() })

  it('refuses writes with 503 and changes nothing, keeps reading, resumes once space is back without a restart, and loses nothing acknowledged', async () => {
    const acknowledged = new Map<string, Chat>()
    for (let i = 0; i < 20; i++) {
      const res = await post({ title: `before ${i}` })
      expect(res.status).toBe(201)
      const chat = await res.json() as Chat
      acknowledged.set(chat.id, chat)
    }
    fillDisk()
    // Writes go on into the log's preallocated space, then the next one finds the disk full.
    let refused: Response | undefined
    for (let i = 0; i < 5000 && refused === undefined; i++) {
      const res = await post({ title: `filling ${i}`, description: 'x'.repeat(2000) })
      if (res.status === 201) {
        const chat = await res.json() as Chat
        acknowledged.set(chat.id, chat)
      } else {
        refused = res
      }
    }
    expect(refused?.status).toBe(503)
    expect(refused?.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(refused?.headers.get('retry-after')).toBe('5')
    expect(await refused?.json()).toMatchObject({ type: '/problems/unavailable', status: 503, detail: expect.stringMatching(/read-only.*ENOSPC/) as unknown })

    const [some] = acknowledged.keys()
    expect((await post({ title: 'still full' })).status).toBe(503)
    expect((await fetch(`${base}/chats/${some}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"title":"no"}' })).status).toBe(503)
    expect((await fetch(`${base}/chats/${some}`, { method: 'DELETE' })).status).toBe(503)
    const ready = await fetch(`${base}/health/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ detail: expect.stringMatching(/ENOSPC/) as unknown })
    // Reads go on, and show exactly what was acknowledged: the refused writes changed nothing.
    const listed = await fetch(`${base}/chats?limit=1`)
    expect(listed.status).toBe(200)
    expect((await listed.json() as ListPage).total).toBe(acknowledged.size)
    expect(await (await fetch(`${base}/chats/${some}`)).json()).toEqual(acknowledged.get(some!))

    // The store tries to heal once a second: give it two tries while the disk is still full.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect((await post({ title: 'still full after the tries' })).status).toBe(503)
    unlinkSync(filler)
    await vi.waitFor(async () => { expect((await fetch(`${base}/health/ready`)).status).toBe(200) }, { timeout: 15_000, interval: 100 })
    const after = await post({ title: 'space is back' })
    expect(after.status).toBe(201)
    const chat = await after.json() as Chat
    acknowledged.set(chat.id, chat)
    // The heal rewrote the store as one snapshot and a log; the tries that failed left nothing behind.
    const manifest = JSON.parse(readFileSync(join(dir, 'MANIFEST'), 'utf8')) as { snapshot: string, logs: string[] }
    expect(readdirSync(dir).sort()).toEqual(['MANIFEST', manifest.snapshot, ...manifest.logs].sort())

    await app.close()
    app = await build({ DATA_DIR: dir })
    await app.storeRecovery
    for (const [id, chat] of acknowledged) {
      const res = await app.inject({ url: `/chats/${id}` })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual(chat)
    }
    expect((await app.inject({ url: '/chats?limit=1' })).json<ListPage>().total).toBe(acknowledged.size)
  })
})
