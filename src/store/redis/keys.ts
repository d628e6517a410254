/**
 * Key names. Every key of one owner carries the owner as its hash tag, so that Redis Cluster keeps
 * them in one slot and a script can change them together. The owner is base64url-encoded inside
 * the tag: an owner may hold `{` or `}`, which would end the tag early, and the encoding has
 * neither, so the tag is always exactly the owner.
 */
export class RedisKeys {
  constructor (readonly prefix: string) {}

  /** `<prefix>:{<owner as base64url>}`: what every key of the owner starts with. */
  base (owner: string): string {
    // An empty tag (`{}`) would not be a tag at all; owners are never empty, but the key stays tagged.
    const tag = owner === '' ? '~' : Buffer.from(owner, 'utf8').toString('base64url')
    return `${this.prefix}:{${tag}}`
  }

  chat (base: string, id: string): string {
    return `${base}:chat:${id}`
  }

  /** The owner's chats in createdAt order; also their count (ZCARD). */
  createdIndex (base: string): string {
    return `${base}:z:ca`
  }

  /** The owner's change stream (its entry ids are the seqs); `<feed>:m` holds its origin, floor and last seq. */
  feed (base: string): string {
    return `${base}:feed`
  }

  /** The owner's shard channel, on which every write script publishes its change. */
  channel (base: string): string {
    return `${base}:ch`
  }

  /** An idempotency key of the owner (a key may hold braces: the first tag, the owner's, is the one that counts). */
  idempotency (base: string, key: string): string {
    return `${base}:idem:${key}`
  }

  /** The global count of chats behind MAX_ITEMS (in a slot of its own). */
  get items (): string {
    return `${this.prefix}:items`
  }

  /** The HMAC key of list cursors that every process on this prefix shares when CURSOR_SECRET is not set. */
  get cursorSecret (): string {
    return `${this.prefix}:cursor-secret`
  }

  /** What matches every key of this prefix (for SCAN). */
  get pattern (): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}:*`
  }
}
