import diagnostics from 'node:diagnostics_channel'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, expect } from 'vitest'
import { takeMismatches, watchResponses } from './contract/responses.js'

/**
 * Every test file: each Fastify instance gets the response watcher as it is made (Fastify publishes
 * `fastify.initialization` from its constructor, before any plugin), so every answer a test gets
 * from the app, over `inject` or a socket, is checked against openapi/openapi.json, after each
 * test. A mismatch fails the test that got it (or the file, for answers to a `beforeAll`).
 */
const testName = (): string | undefined => expect.getState().currentTestName
diagnostics.subscribe('fastify.initialization', (message) => {
  watchResponses((message as { fastify: FastifyInstance }).fastify, testName)
})

function report (): void {
  const found = takeMismatches()
  if (found.length > 0) throw new Error(`answers that openapi/openapi.json does not describe:\n${found.join('\n')}`)
}
afterEach(report)
afterAll(report)
