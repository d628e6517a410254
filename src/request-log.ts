import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * One info line a request, written when its answer is sent: method, URL, status, time and the
 * request id (bound by Fastify). Fastify's default writes two lines a request through the full
 * request and reply serializers; under load that was the largest cost of ours in the profile,
 * and the "incoming request" line says nothing the completion line does not.
 */
export class RequestLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime }
    if (error === null || error === undefined) reply.log.info(line, 'request completed')
    else reply.log.error({ ...line, err: error }, 'request errored')
  }
}
