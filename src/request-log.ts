import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/** An answer slower than this is logged at info even when it succeeded. */
export const SLOW_REQUEST_MS = 500

/**
 * One line a request, written when its answer is sent: method, URL, status, time and the request
 * id (bound by Fastify). Failed (4xx, 5xx) and slow answers are logged at info; quick successes at
 * debug (LOG_LEVEL=debug shows every request), since at info that one line was about a sixth of
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
