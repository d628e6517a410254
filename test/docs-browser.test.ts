import { existsSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from './helper.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// .ci/run installs Debian's chromium; a developer machine without it skips this one file.
describe.skipIf(!existsSync(CHROMIUM) && process.env.CI !== 'true')('Swagger UI in a real browser', () => {
  let app: FastifyInstance
  let browser: Browser
  let base: string

  beforeAll(async () => {
    app = await build()
    base = await app.listen({ port: 0, host: '127.0.0.1' })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
  })

  afterAll(async () => {
    await browser.close()
    await app.close()
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
