import type { Chat, ChangeListener, ChangePage, ChatFields, ChatPatch, CreateResult, HistoryPage, HistoryQuery, IdempotencyKey, ListPage, ListQuery, StoreHealth, WriteOptions } from './types.js'

/**
 * What a backend implements: `ChatStore` calls it with input the rules (`rules.ts`) have checked
 * and completed. Every call names its owner, and the backend keeps owners apart: another owner's
 * chat does not exist for the caller, a list covers the caller's chats only (and costs what they
 * are, not what the store holds), a cursor is good for its owner only. Every write is atomic; a conditional write checks its version (`checkVersion`)
 * and a patch merges (`mergePatch`) inside the backend's atomic section. Failures are
 * `StoreError`s. `test/store/backend-suite.ts` is the suite every backend passes.
 *
 * Every write that takes effect also records, in the same atomic section, one change in its
 * owner's feed (`changes`, `subscribe`) and the new version in the chat's history (`history`).
 */
export interface ChatBackend {
  /**
   * With `idempotency`, the key and the create are one atomic write, kept for the backend's TTL:
   * the same key again with the same fingerprint answers the kept chat (as first created, also
   * after it changed or was deleted) with `replayed: true` and creates nothing; with another
   * fingerprint it fails `keyReused`; while the first create with the key is still under way
   * (waiting for the lock, or for its write to be durable) it fails `keyInFlight` with a
   * `retryAfterSeconds`. A create that fails keeps no key. Keys are the owner's own.
   */
  create (owner: string, fields: ChatFields, idempotency?: IdempotencyKey): Promise<CreateResult>
  /** `undefined` when the owner has no such chat, also for a string that is no chat id. */
  get (owner: string, id: string): Promise<Chat | undefined>
  /** The query as `checkListQuery` left it: a sort given, `offset` set unless there is a cursor. */
  list (owner: string, query: ListQuery): Promise<ListPage>
  /** `patch` as `checkPatch` left it. */
  update (owner: string, id: string, patch: ChatPatch, options: WriteOptions): Promise<Chat>
  replace (owner: string, id: string, fields: ChatFields, options: WriteOptions): Promise<Chat>
  delete (owner: string, id: string, options: WriteOptions): Promise<void>
  /** The owner's chats. */
  count (owner: string): Promise<number>
  /**
   * The owner's changes after the one whose seq is `after` (undefined: from the oldest kept),
   * oldest first, at most `limit` (0 to 1000). Seqs are opaque strings that order as plain
   * strings, in the order the writes took effect. The backend keeps at least the owner's last
   * CHANGES_RETAIN changes. Fails `expired` when changes of the owner after `after` are no longer
   * kept, or `after` is no position of this store's history (another store's, a lost one's);
   * `invalid` (field `/after`, source `query`) when `after` cannot be a seq. `limit` 0 answers no
   * items and `nextAfter` the owner's current position: where a live follower starts.
   */
  changes (owner: string, after: string | undefined, limit: number): Promise<ChangePage>
  /**
   * The chat's last HISTORY_VERSIONS versions, oldest first, the current one last, paged by
   * `query.limit` and `query.cursor` (a `nextCursor` of this chat's history; `invalid`, field
   * `/cursor`, when it cannot be one). `notFound` when the owner has no such chat (a deleted chat
   * has no history). With HISTORY_VERSIONS 0, an empty page.
   */
  history (owner: string, id: string, query: HistoryQuery): Promise<HistoryPage>
  /**
   * Calls `listener` with each change of the owner that takes effect from now on (made through
   * this process or, for a shared backend, any other), in seq order, once the write is durable.
   * Synchronous and cheap: the listener must not throw. Answers the function that unsubscribes.
   * A follower subscribes first, then reads `changes` after its position, and skips live changes
   * whose seq is not above the last one it sent: then it misses none and gets none twice.
   */
  subscribe (owner: string, listener: ChangeListener): () => void
  health (): Promise<StoreHealth>
  /** Waits for writes in flight, then releases what the backend holds. */
  close (): Promise<void>
}
