import type { Chat, ChatFields, ChatPatch, ListPage, ListQuery, StoreHealth, WriteOptions } from './types.js'

/**
 * What a backend implements: `ChatStore` calls it with input the rules (`rules.ts`) have checked
 * and completed. Every write is atomic; a conditional write checks its version (`checkVersion`)
 * and a patch merges (`mergePatch`) inside the backend's atomic section. Failures are
 * `StoreError`s. `test/store/backend-suite.ts` is the suite every backend passes.
 */
export interface ChatBackend {
  create (fields: ChatFields): Promise<Chat>
  /** `undefined` when there is no such chat, also for a string that is no chat id. */
  get (id: string): Promise<Chat | undefined>
  /** The query as `checkListQuery` left it: a sort given, `offset` set unless there is a cursor. */
  list (query: ListQuery): Promise<ListPage>
  /** `patch` as `checkPatch` left it. */
  update (id: string, patch: ChatPatch, options: WriteOptions): Promise<Chat>
  replace (id: string, fields: ChatFields, options: WriteOptions): Promise<Chat>
  delete (id: string, options: WriteOptions): Promise<void>
  count (): Promise<number>
  health (): Promise<StoreHealth>
  /** Waits for writes in flight, then releases what the backend holds. */
  close (): Promise<void>
}
