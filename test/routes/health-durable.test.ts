import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Chat } from '../../src/store/types.js'
import { build, jsonHeaders } from '../helper.js'
import { removeTempDirs, tempDir } from '../store/durable/helpers.js'

afterEach(removeTempDirs)

describe('the app with DATA_DIR', () => {
  it('keeps chats across apps on the same directory, and is ready once recovered', async () => {
    const dir = tempDir()
    const app = await build({ DATA_DIR: dir, FSYNC: 'always' })
    await app.storeRecovery
    expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/^chat_store_read_only 0$/m)
    const created = await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'kept' } })
    expect(created.statusCode).toBe(201)
    await app.close()

    const again = await build({ DATA_DIR: dir })
    await again.storeRecovery
    const read = await again.inject({ url: `/chats/${created.json<Chat>().id}` })
    expect(read.statusCode).toBe(200)
    expect(read.json()).toEqual(created.json())
    await again.close()
  })

  it('answers 503 on /health/ready and on every chat route when recovery fails, saying why', async () => {
    const dir = tempDir()
    const app = await build({ DATA_DIR: dir })
    await app.storeRecovery
    await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'a' } })
    await app.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'b' } })
    await app.close()
    const log = join(dir, 'log-000001.aof')
    const bytes = readFileSync(log)
    bytes[30] = bytes[30]! ^ 0xff
    writeFileSync(log, bytes)

    const broken = await build({ DATA_DIR: dir })
    await expect(broken.storeRecovery).rejects.toThrow(/at byte offset 16/)
    const ready = await broken.inject({ url: '/health/ready' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json<{ detail: string }>().detail).toMatch(/could not recover.*log-000001\.aof at byte offset 16.*npm run repair/)
    expect((await broken.inject({ url: '/chats' })).statusCode).toBe(503)
    expect((await broken.inject({ method: 'POST', url: '/chats', headers: jsonHeaders, payload: { title: 'c' } })).statusCode).toBe(503)
    await broken.close()
  })

  it('answers 503 on /health/ready with the store\'s detail while it recovers or is read-only', async () => {
    const app = await build()
    const health = vi.spyOn(app.store, 'health')
    health.mockResolvedValue({ ready: false, items: 0, maxItems: 1, recovering: true, readOnly: false, detail: 'The store is recovering its data from disk' })
    const recovering = await app.inject({ url: '/health/ready' })
    expect(recovering.statusCode).toBe(503)
    expect(recovering.headers['retry-after']).toBe('1')
    expect(recovering.json()).toMatchObject({ type: '/problems/unavailable', detail: 'The store is recovering its data from disk' })
    health.mockResolvedValue({ ready: false, items: 0, maxItems: 1, recovering: false, readOnly: true, detail: 'writing the log failed (ENOSPC)' })
    const readOnly = await app.inject({ url: '/health/ready' })
    expect(readOnly.statusCode).toBe(503)
    expect(readOnly.headers['retry-after']).toBe('5')
    expect(readOnly.json()).toMatchObject({ detail: 'writing the log failed (ENOSPC)' })
    const metrics = (await app.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/^chat_store_read_only 1$/m)
    expect(metrics).toMatch(/^chat_store_recovering 0$/m)
    await app.close()
  })
})
