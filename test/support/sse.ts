import { request, type IncomingMessage } from 'node:http'

export interface SseEvent { id: string | undefined, event: string | undefined, data: string }

/**
 * A Server-Sent Events client over a real socket, as a browser's EventSource reads a stream:
 * events (with their `id`), comments apart, and the last event id it would resume from.
 */
export class SseClient {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  /** What EventSource would send as Last-Event-ID: the last `id` field seen, events without data included. */
  lastEventId: string | undefined
  ended = false
  private buffer = ''
  private waiters: (() => void)[] = []

  private constructor (readonly response: IncomingMessage, readonly status: number, readonly body: Promise<string> | undefined) {
    if (status !== 200) return
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => { this.feed(chunk) })
    const finish = (): void => { this.ended = true; this.wake() }
    response.on('end', finish)
    response.on('close', finish)
    response.on('error', finish)
  }

  static async connect (url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return await new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode === 200) {
          resolve(new SseClient(res, 200, undefined))
          return
        }
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        resolve(new SseClient(res, res.statusCode ?? 0, new Promise((done) => res.on('end', () => { done(text) }))))
      })
      req.on('error', reject)
      req.end()
    })
  }

  /** Resolves once `test` holds (checked on every chunk), or rejects after `timeoutMs`. */
  async until (test: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${this.events.length} events, ${this.comments.length} comments, ended ${String(this.ended)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  async untilEvent (id: string, timeoutMs?: number): Promise<void> {
    await this.until(() => this.events.some((e) => e.id === id), timeoutMs)
  }

  close (): void {
    this.response.destroy()
  }

  private feed (chunk: string): void {
    this.buffer += chunk
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      let id: string | undefined
      let event: string | undefined
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) { this.comments.push(line.slice(1).trim()); continue }
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'id') id = value
        else if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
      if (id !== undefined) this.lastEventId = id
      if (data.length > 0) this.events.push({ id, event, data: data.join('\n') })
    }
    this.wake()
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
