import type { Chat, ChatFields, ChatPatch, ListPage, ListQuery, StoreHealth, WriteOptions } from './types.js'

/**
 * What a backend implements: `ChatStore` calls it with input the rules (`rules.ts`) have checked
 * and completed. Every call names its owner, and the backend keeps owners apart: another owner's
 * chat does not exist for the caller, a list covers the caller's chats only (and costs what they
 * are, not what the store holds), a cursor is good for its owner only. Every write is atomic; a conditional write checks its version (`checkVersion`)
 * and a patch merges (`mergePatch`) inside the backend's atomic section. Failures are
 * `StoreError`s. `test/store/backend-suite.ts` is the suite every backend passes.
 */
export interface ChatBackend {
  create (owner: string, fields: ChatFields): Promise<Chat>
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
  health (): Promise<StoreHealth>
  /** Waits for writes in flight, then releases what the backend holds. */
  close (): Promise<void>
}
