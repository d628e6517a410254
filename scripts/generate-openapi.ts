/**
 * Writes openapi/openapi.json from the live app's route schemas (as fastify-cli's generate-swagger does).
 * `npm run openapi` after changing a route; a test fails while the committed file is stale.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

export const OPENAPI_PATH = new URL('../openapi/openapi.json', import.meta.url)

export async function generateOpenApi (): Promise<string> {
  const app = await buildApp({ config: loadConfig({}, { LOG_LEVEL: 'silent' }) })
  try {
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await mkdir(new URL('.', OPENAPI_PATH), { recursive: true })
  await writeFile(OPENAPI_PATH, await generateOpenApi())
  process.stdout.write(`wrote ${OPENAPI_PATH.pathname}\n`)
}
