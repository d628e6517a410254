import type { KeptKey } from '../records.js'

/** An owner's key as one map key: the owner's length first, so that no two pairs make the same string. */
const slotOf = (owner: string, key: string): string => `${owner.length}:${owner}${key}`

/**
 * Idempotency keys, each owner's apart: the keys kept with the create they answered, until they
 * expire, and the keys whose create is under way. Keys are kept in the order they were made,
 * which is the order they expire in (one TTL), so that the expired ones are swept from the front.
 */
export class IdempotencyKeys {
  private kept = new Map<string, KeptKey>()
  private readonly inFlight = new Set<string>()

  constructor (readonly ttlMs: number) {}

  /** The key's kept create, unless it has expired. */
  get (owner: string, key: string, now: number): KeptKey | undefined {
    const slot = slotOf(owner, key)
    const kept = this.kept.get(slot)
    if (kept === undefined || kept.expiresAt > now) return kept
    this.kept.delete(slot)
    return undefined
  }

  add (kept: KeptKey): void {
    const slot = slotOf(kept.chat.owner, kept.key)
    this.kept.delete(slot)
    this.kept.set(slot, kept)
  }

  delete (owner: string, key: string): void {
    this.kept.delete(slotOf(owner, key))
  }

  /** Marks the key's create as under way; false when it already is. */
  begin (owner: string, key: string): boolean {
    const slot = slotOf(owner, key)
    if (this.inFlight.has(slot)) return false
    this.inFlight.add(slot)
    return true
  }

  end (owner: string, key: string): void {
    this.inFlight.delete(slotOf(owner, key))
  }

  /** Forgets the expired keys (from the front, where the oldest are). */
  sweep (now: number): void {
    for (const [slot, kept] of this.kept) {
      if (kept.expiresAt > now) return
      this.kept.delete(slot)
    }
  }

  /** Every key kept, for a snapshot. */
  all (): KeptKey[] {
    return [...this.kept.values()]
  }

  /** Recovery: the keys of the snapshot and the logs; the expired ones are dropped. */
  restore (keys: Iterable<KeptKey>, now: number): void {
    const live = [...keys].filter((k) => k.expiresAt > now).sort((a, b) => a.expiresAt - b.expiresAt)
    this.kept = new Map()
    for (const k of live) this.add(k)
  }

  get size (): number {
    return this.kept.size
  }
}
