import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

/** pino's redaction (the server's logger): credentials never reach a log line, whatever logs a request's headers. */
export const LOG_REDACT = ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]']

/** An answer slower than this is logged at info even when it succeeded. */
export const SLOW_REQUEST_MS = 500

/**
 * One line a request, written when its answer is sent: method, URL, status, time and the request
 * id (bound by Fastify). Failed (4xx, 5xx) and slow answers are logged at info; quick successes at
 * debug (LOG_LEVEL=debug shows every request), since at info that one line is a large share of
 * the CPU a read costs, and successes are what metrics count. Fastify's default instead writes two
 * info lines a request, "incoming request" saying nothing the completion line does not.
 */
export class RequestLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime }
    if (error !== null && error !== undefined) reply.log.error({ ...line, err: error }, 'request errored')
    else if (line.statusCode >= 400 || line.responseTime >= SLOW_REQUEST_MS) reply.log.info(line, 'request completed')
    else reply.log.debug(line, 'request completed')
  }
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
/** A logger that can say whether a level writes (pino can; Fastify's stand-in for `logger: false` cannot). */
type LevelAware = FastifyBaseLogger & { isLevelEnabled: (level: string) => boolean }
const knowsLevels = (logger: FastifyBaseLogger): logger is LevelAware =>
  typeof (logger as Partial<LevelAware>).isLevelEnabled === 'function'

/**
 * Fastify gives every request a child logger bound to its id. pino makes one eagerly (it writes
 * the bindings out as JSON at once), a cost every request would pay, and most requests never
 * write a line (quick successes log at debug, off at info). This child makes
 * pino's the first time a line is written at a level that writes, or a child or a level change is
 * asked for; the lines are pino's child's, byte for byte.
 */
class LazyChildLogger {
  /** pino's child, once made (a pino logger's child is a pino logger). */
  private made: LevelAware | undefined

  constructor (private readonly parent: LevelAware, private readonly bindings: Bindings) {}

  private get logger (): LevelAware {
    return this.made ??= this.parent.child(this.bindings) as LevelAware
  }

  get level (): string { return (this.made ?? this.parent).level }
  set level (level: string) { this.logger.level = level }

  isLevelEnabled (level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level)
  }

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger { return this.logger.child(bindings, options) }
  fatal (...args: unknown[]): void { this.write('fatal', args) }
  error (...args: unknown[]): void { this.write('error', args) }
  warn (...args: unknown[]): void { this.write('warn', args) }
  info (...args: unknown[]): void { this.write('info', args) }
  debug (...args: unknown[]): void { this.write('debug', args) }
  trace (...args: unknown[]): void { this.write('trace', args) }
  silent (): void {}

  private write (level: Level, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return
    const logger = this.logger as unknown as Record<Level, (...args: unknown[]) => void>
    logger[level](...args)
  }
}

/**
 * Fastify's `childLoggerFactory`: a `LazyChildLogger` over pino. A route with a log level or
 * serializers of its own gets pino's child at once, as does a logger that cannot tell which levels write.
 */
export function lazyChildLogger (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined || !knowsLevels(logger)) return logger.child(bindings, options)
  return new LazyChildLogger(logger, bindings)
}
