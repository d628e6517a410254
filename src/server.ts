import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, usesApiKeys } from './config.js'
import { LOG_REDACT } from './request-log.js'

/** The only file that listens: reads the config, builds the app, serves until a signal, then closes gracefully. */
async function main (): Promise<void> {
  let config
  let app
  try {
    config = loadConfig()
    const pretty = process.stdout.isTTY && config.NODE_ENV === 'development'
    app = await buildApp({
      config,
      logger: {
        level: config.LOG_LEVEL,
        redact: { paths: LOG_REDACT, censor: '[redacted]' },
        ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
      }
    })
  } catch (err) {
    // A setting that cannot work (an unreadable API_KEYS_FILE, a PEM that is not a key) stops the start with its message.
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }

  // SIGHUP reads API_KEYS_FILE again (src/plugins/auth.ts) instead of closing the server.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: app.log, skip: usesApiKeys(config) ? ['SIGHUP'] : [] }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })

  await app.listen({ port: config.PORT, host: config.HOST })
  // Listening while the store recovers: /health/ready answers 503 until it is done.
  try {
    await app.storeRecovery
  } catch (err) {
    app.log.fatal({ err }, `the store could not load ${config.DATA_DIR}: ${(err as Error).message}`)
    await app.close()
    process.exit(1)
  }
}

await main()
