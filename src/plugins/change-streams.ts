import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'
import type { ChangeEvent } from '../store/types.js'

/** How the event streams of `GET /changes` behave; tests shorten them. */
export interface ChangeStreamTuning {
  /** A comment line at least this often keeps the connection open through proxies (the contract: at least every 15 s). */
  heartbeatMs?: number
  /** A client whose unsent bytes pass this is too slow: it is disconnected (it resumes with Last-Event-ID). */
  maxBufferedBytes?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    changeStreams: ChangeStreams
  }
}

export interface ChangeStreams {
  /** Answers the request with the owner's changes after `after` (or from now on) as Server-Sent Events, then the live ones. */
  open: (request: FastifyRequest, reply: FastifyReply, after: string | undefined) => Promise<void>
  /** The streams open now. */
  readonly size: number
}

const PAGE = 1000
const event = (e: ChangeEvent): string => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`
/** Each live change goes to every stream of its owner as one object: its text is made once. */
const texts = new WeakMap<ChangeEvent, string>()
const textOf = (e: ChangeEvent): string => {
  let text = texts.get(e)
  if (text === undefined) texts.set(e, text = event(e))
  return text
}

/**
 * `GET /changes` as an event stream (Server-Sent Events). A stream subscribes first, then sends
 * the changes after its position page by page (waiting for the socket to drain), then the live
 * ones, skipping any whose seq is not above the last sent: none missed, none twice. A client that
 * lets more than `maxBufferedBytes` pile up unsent (or too many live changes while its backlog is
 * sent) is disconnected, never buffered without bound. At most CHANGES_MAX_STREAMS are open;
 * past it a new one is a 503. Closing the app ends every stream.
 */
export default fp<{ config: Config, tuning?: ChangeStreamTuning }>(async (app, { config, tuning = {} }) => {
  const heartbeatMs = tuning.heartbeatMs ?? 10_000
  const maxBuffered = tuning.maxBufferedBytes ?? 256 * 1024
  const maxPending = Math.max(PAGE, config.CHANGES_RETAIN)
  const open = new Set<() => void>()

  async function stream (request: FastifyRequest, reply: FastifyReply, after: string | undefined): Promise<void> {
    if (open.size >= config.CHANGES_MAX_STREAMS) throw new AppError('unavailable', `The server holds its maximum of ${config.CHANGES_MAX_STREAMS} open change streams`, { retryAfter: 5 })
    const { owner } = request
    const raw = reply.raw
    let last = ''
    let live = false
    let closed = false
    let pending: ChangeEvent[] = []
    const isClosed = (): boolean => closed
    // Live changes are gathered and written once per turn of the event loop: one write per stream
    // for all the changes of that turn, not one per change (a change to 1,000 streams is 1,000 writes).
    let unsent = ''
    const flush = (): void => {
      if (closed || unsent === '') return
      raw.write(unsent)
      unsent = ''
      if (raw.writableLength > maxBuffered) cut('too slow: its unsent changes passed the limit')
    }
    const write = (e: ChangeEvent, now = false): void => {
      if (closed || e.seq <= last) return
      last = e.seq
      if (unsent === '' && !now) setImmediate(flush)
      unsent += textOf(e)
      if (now) flush()
    }
    const unsubscribe = app.store.subscribe(owner, (e) => {
      if (live) write(e)
      else if (pending.push(e) > maxPending) cut('too slow: too many live changes arrived while its backlog was sent')
    })
    let heartbeat: NodeJS.Timeout | undefined = undefined
    const end = (): void => {
      if (closed) return
      closed = true
      unsubscribe()
      clearInterval(heartbeat)
      open.delete(close)
    }
    const close = (): void => {
      flush()
      end()
      raw.end(() => { raw.socket?.end() })
    }
    function cut (why: string): void {
      if (closed) return
      request.log.info({ owner, lastEventId: last, buffered: raw.writableLength }, `change stream cut: ${why}`)
      end()
      raw.destroy()
    }
    let page
    try {
      // Before answering: a position that is expired or malformed is a 410 or a 400 problem.
      page = await app.store.changes(owner, after, after === undefined ? 0 : PAGE)
    } catch (err) {
      end()
      throw err
    }
    open.add(close)
    raw.on('close', end)
    // Set on the reply too (not only on the wire), so that what the app's hooks see of the answer is what went out.
    reply.header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache, no-transform')
      // nginx: pass events through as they come.
      .header('x-accel-buffering', 'no')
    reply.hijack()
    raw.writeHead(200, reply.getHeaders() as OutgoingHttpHeaders)
    heartbeat = setInterval(() => { if (!closed) { flush(); raw.write(': heartbeat\n\n') } }, heartbeatMs)
    if (after === undefined) {
      // No event, but EventSource takes the id: a reconnect resumes from here.
      last = page.nextAfter
      raw.write(`: live from ${last}\nid: ${last}\n\n`)
    } else {
      last = after
      raw.write(': backlog follows\n\n')
      try {
        for (;;) {
          for (const e of page.items) write(e, true)
          if (raw.writableLength > maxBuffered / 2) await drained(raw)
          if (isClosed() || page.items.length < PAGE) break
          page = await app.store.changes(owner, last, PAGE)
        }
      } catch (err) {
        // Expired or unavailable midway: the client resumes, and learns why then.
        request.log.info({ err, owner }, 'change stream ended while sending its backlog')
        close()
        return
      }
    }
    live = true
    const queued = pending
    pending = []
    for (const e of queued) write(e)
  }

  app.decorate('changeStreams', {
    open: stream,
    get size () { return open.size }
  })
  app.addHook('preClose', async () => {
    for (const close of [...open]) close()
  })
}, { name: 'change-streams', dependencies: ['store'] })

/** Resolves when the response has room again, or is closed. */
async function drained (raw: FastifyReply['raw']): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      raw.off('drain', done)
      raw.off('close', done)
      resolve()
    }
    raw.on('drain', done)
    raw.on('close', done)
  })
}
