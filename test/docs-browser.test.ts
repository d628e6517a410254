import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SECRET, signer } from './auth/helpers.js'
import { build } from './helper.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// .ci/run installs Debian's chromium; a developer machine without it skips this one file.
describe.skipIf(!existsSync(CHROMIUM) && process.env.CI !== 'true')('Swagger UI in a real browser', () => {
  let app: FastifyInstance
  let browser: Browser
  let base: string

  let secured: FastifyInstance
  let securedBase: string
  const keysDir = mkdtempSync(path.join(os.tmpdir(), 'chat-docs-'))
  const API_KEY = 'docs-browser-test-key-0123456789abcdef'

  beforeAll(async () => {
    app = await build()
    base = await app.listen({ port: 0, host: '127.0.0.1' })
    const keysFile = path.join(keysDir, 'keys.txt')
    writeFileSync(keysFile, `key-owner ${createHash('sha256').update(API_KEY).digest('hex')}\n`)
    secured = await build({ AUTH_MODE: 'jwt,api-key', JWT_SECRET: SECRET, API_KEYS_FILE: keysFile })
    securedBase = await secured.listen({ port: 0, host: '127.0.0.1' })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
  })

  afterAll(async () => {
    await browser.close()
    await app.close()
    await secured.close()
    rmSync(keysDir, { recursive: true, force: true })
  })

  /** Opens an operation, runs it with "Try it out" (on from the start), and answers the status the UI shows. */
  async function execute (page: Page, operation: string, body?: string): Promise<string | null> {
    const op = page.locator(`#operations-chats-${operation}`)
    if (await op.getByRole('button', { name: 'Execute' }).count() === 0) await op.locator('.opblock-summary').first().click()
    if (body !== undefined) await op.locator('textarea.body-param__text').fill(body)
    const before = await op.locator('.live-responses-table tbody .response-col_status').count()
    await op.getByRole('button', { name: 'Execute' }).click()
    await expect.poll(async () => await op.locator('.live-responses-table tbody .response-col_status').count(), { timeout: 10_000 }).toBeGreaterThan(before === 0 ? 0 : -1)
    await expect.poll(async () => await op.locator('.live-responses-table tbody .response-col_status').first().textContent(), { timeout: 10_000 }).toMatch(/\d{3}/)
    return await op.locator('.live-responses-table tbody .response-col_status').first().textContent()
  }

  /** "Authorize": fills the one scheme's value in the dialog, authorizes it, closes the dialog. */
  async function authorize (page: Page, scheme: 'bearerAuth' | 'apiKey', value: string): Promise<void> {
    await page.locator('.auth-wrapper .btn.authorize').click()
    const section = page.locator('.auth-container').filter({ hasText: scheme })
    await section.locator('input').first().fill(value)
    await section.locator('button.authorize').click()
    await expect.poll(async () => await section.locator('button', { hasText: 'Logout' }).count()).toBe(1)
    await page.locator('.modal-ux button.btn-done').first().click()
  }

  it('with auth on: 401 before "Authorize", then 201 and 200 with a JWT the test signed (bearerAuth)', async () => {
    const page = await browser.newPage()
    await page.goto(`${securedBase}/docs`)
    expect(await execute(page, 'listChats')).toContain('401')
    const token = signer({ key: SECRET })({ sub: 'swagger-user', exp: Math.floor(Date.now() / 1000) + 600 })
    await authorize(page, 'bearerAuth', token)
    expect(await execute(page, 'createChat', '{"title":"Authorized in Swagger UI"}')).toContain('201')
    expect(await execute(page, 'listChats')).toContain('200')
    await page.close()
  })

  it('with auth on: 200 with an API key (apiKey, X-API-Key)', async () => {
    const page = await browser.newPage()
    await page.goto(`${securedBase}/docs`)
    await authorize(page, 'apiKey', API_KEY)
    expect(await execute(page, 'listChats')).toContain('200')
    await page.close()
  })

  it('lists the operations and creates a chat with "Try it out"', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/docs`)
    const post = page.locator('#operations-chats-createChat')
    await post.locator('.opblock-summary').first().click()
    // The UI opens with "Try it out" already on (uiConfig.tryItOutEnabled): the body is editable at once.
    await expect.poll(async () => await post.getByRole('button', { name: 'Cancel' }).count()).toBe(1)
    await post.locator('textarea.body-param__text').fill('{"title":"From Swagger UI","priority":"high"}')
    await post.getByRole('button', { name: 'Execute' }).click()
    await expect.poll(async () => await post.locator('.live-responses-table tbody .response-col_status').first().textContent(), { timeout: 10_000 }).toContain('201')

    const list = await app.inject({ method: 'GET', url: '/chats' })
    expect(list.json<{ items: { title: string }[] }>().items.map((c) => c.title)).toEqual(['From Swagger UI'])
    await page.close()
  })
})
