import type { Chat, ListPage } from '../store/chat-store.js'

/** What `JSON.stringify` escapes in a string (lone surrogates included, as it writes them as `\uXXXX`). */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** `JSON.stringify(s)` for a string, without the call when there is nothing to escape (the usual case). */
export function jsonString (s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`
}

/** A chat's JSON longer than this is not cached: the cache's bound in bytes stays a bound in entries too. */
const MAX_CACHED_LENGTH = 4096

/**
 * The JSON of chats, cached by the chat object (the store hands out the same object for the same
 * version of a chat while it stays in its cache of views; a write makes a new one, so an entry is
 * never stale). At most `maxChars` characters of JSON are kept (UTF-16, so at most twice that in
 * bytes); the oldest entries go first.
 */
export class ChatJsonCache {
  private readonly cache = new Map<Chat, string>()
  private chars = 0

  constructor (private readonly maxChars = 262_144) {}

  get size (): number { return this.cache.size }
  get characters (): number { return this.chars }

  of (chat: Chat): string {
    let json = this.cache.get(chat)
    if (json !== undefined) return json
    json = chatJson(chat)
    if (json.length <= MAX_CACHED_LENGTH && this.maxChars > 0) {
      while (this.chars + json.length > this.maxChars) {
        const [oldest, old] = this.cache.entries().next().value!
        this.cache.delete(oldest)
        this.chars -= old.length
      }
      this.cache.set(chat, json)
      this.chars += json.length
    }
    return json
  }

  /** A page, byte for byte what Fastify's serializer makes of it through `ChatPageSchema`. */
  page (page: ListPage): string {
    let out = '{"items":['
    const { items } = page
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out += ','
      out += this.of(items[i]!)
    }
    out += `],"total":${page.total},"limit":${page.limit},"nextCursor":${page.nextCursor === null ? 'null' : jsonString(page.nextCursor)}`
    return page.offset === undefined ? `${out}}` : `${out},"offset":${page.offset}}`
  }
}

/** A chat, byte for byte what Fastify's serializer makes of it through `ChatSchema`. */
export function chatJson (c: Chat): string {
  return `{"id":${jsonString(c.id)},"title":${jsonString(c.title)},"description":${jsonString(c.description)},"priority":${jsonString(c.priority)},"isActive":${c.isActive ? 'true' : 'false'},"createdAt":${jsonString(c.createdAt)},"updatedAt":${jsonString(c.updatedAt)},"version":${c.version}}`
}
