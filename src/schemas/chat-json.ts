import type { Chat, ListPage } from '../store/types.js'
import { ChatSchema } from './chat.js'

/** What `JSON.stringify` escapes in a string (lone surrogates included, as it writes them as `\uXXXX`). */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** `JSON.stringify(s)` for a string, without the call when there is nothing to escape (the usual case). */
export function jsonString (s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`
}

/** A chat's JSON longer than this is not cached (such a chat is rare; the bound in bytes then also bounds the entries). */
const MAX_CACHED_BYTES = 4096

/** Pages are cut from slabs this big, as Node cuts small buffers from its pool: no allocation of their own. */
const SLAB_BYTES = 128 * 1024

/**
 * The JSON of chats as UTF-8, cached by id and version: every write makes a new version, so an
 * entry is never stale, whatever backend the chat came from. At most `maxBytes` bytes of JSON are kept, each in a buffer of its own
 * (a slice of a shared slab would keep the whole slab alive); the oldest go first. A page is
 * assembled by copying bytes: no string of the whole page to measure and encode again.
 */
export class ChatJsonCache {
  /**
   * By id, with the version the JSON is of: a lookup by the chat's own id string, whose hash the
   * engine keeps with the string, costs less than one by a key made for it on every lookup.
   */
  private readonly cache = new Map<string, { version: number, json: Buffer }>()
  private bytes = 0
  private readonly pages = new Slab(SLAB_BYTES)

  constructor (private readonly maxBytes = 262_144) {}

  get size (): number { return this.cache.size }
  /** The bytes of JSON held (each buffer also costs a few dozen bytes of bookkeeping). */
  get byteLength (): number { return this.bytes }

  of (chat: Chat): Buffer {
    const held = this.cache.get(chat.id)
    if (held !== undefined) {
      if (held.version === chat.version) return held.json
      this.cache.delete(chat.id)
      this.bytes -= held.json.length
    }
    const text = chatJson(chat)
    const length = Buffer.byteLength(text)
    if (length > MAX_CACHED_BYTES || length > this.maxBytes) return Buffer.from(text)
    const json = Buffer.allocUnsafeSlow(length)
    json.write(text)
    while (this.bytes + length > this.maxBytes) {
      const [oldest, old] = this.cache.entries().next().value!
      this.cache.delete(oldest)
      this.bytes -= old.json.length
    }
    this.cache.set(chat.id, { version: chat.version, json })
    this.bytes += length
    return json
  }

  /** A page, byte for byte what Fastify's serializer makes of it through `ChatPageSchema`. */
  page (page: ListPage): Buffer {
    const { items } = page
    const chats: Buffer[] = []
    let length = 0
    for (const chat of items) {
      const json = this.of(chat)
      chats.push(json)
      length += json.length
    }
    const head = '{"items":['
    const tail = `],"total":${page.total},"limit":${page.limit},"nextCursor":${page.nextCursor === null ? 'null' : jsonString(page.nextCursor)}` +
      (page.offset === undefined ? '}' : `,"offset":${page.offset}}`)
    const tailLength = Buffer.byteLength(tail)
    const out = this.pages.take(head.length + length + Math.max(0, chats.length - 1) + tailLength)
    let at = out.write(head, 0, 'latin1')
    for (let i = 0; i < chats.length; i++) {
      if (i > 0) out[at++] = 0x2c // ,
      const json = chats[i]!
      out.set(json, at)
      at += json.length
    }
    out.write(tail, at)
    return out
  }
}

/**
 * Buffers cut one after the other from slabs, as Node cuts small buffers from its pool; bytes are
 * never handed out twice, and a slab is left to the garbage collector once nothing cut from it
 * is held. A cut bigger than an eighth of a slab gets a buffer of its own.
 */
class Slab {
  private slab = Buffer.alloc(0)
  private used = 0

  constructor (private readonly bytes: number) {}

  take (size: number): Buffer {
    if (size > this.bytes >>> 3) return Buffer.allocUnsafeSlow(size)
    if (this.used + size > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.bytes)
      this.used = 0
    }
    const out = this.slab.subarray(this.used, this.used + size)
    this.used = (this.used + size + 7) & ~7
    return out
  }
}

/** `ChatSchema`'s fields, in its order. */
const CHAT_FIELDS = Object.keys(ChatSchema.properties)

/** A chat, byte for byte what Fastify's serializer makes of it through `ChatSchema`: its fields, in the schema's order. */
export function chatJson (c: Chat): string {
  return JSON.stringify(c, CHAT_FIELDS)
}
