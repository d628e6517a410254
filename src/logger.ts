import type { FastifyServerOptions } from 'fastify'
import { pino } from 'pino'
import type { Config } from './config.js'

/**
 * Lines gather in memory up to this many bytes before one write, and a quiet service writes what
 * it holds within the flush period. One write a line (pino's default) cost about a tenth of the
 * service's CPU under load; what a crash can lose is what the buffer holds (pino flushes it on exit).
 */
export const LOG_BUFFER_BYTES = 4096
export const LOG_FLUSH_MS = 200

/** The server's logger: pretty on a terminal in development, buffered JSON lines otherwise. */
export function loggerOptions (config: Config, { tty = false, dest = 1 }: { tty?: boolean, dest?: number | string } = {}): FastifyServerOptions['logger'] {
  if (tty && config.NODE_ENV === 'development') {
    return { level: config.LOG_LEVEL, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
  }
  return {
    level: config.LOG_LEVEL,
    stream: pino.destination({ dest, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MS, sync: false })
  }
}
