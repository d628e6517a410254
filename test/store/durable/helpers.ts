import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StoreError } from '../../../src/store/errors.js'
import { ChatStore } from '../../../src/store/chat-store.js'
import { DEFAULT_OWNER, type Chat } from '../../../src/store/types.js'
import { createDurableStore, type DurableChatStore, type DurableStoreOptions } from '../../../src/store/durable/durable-store.js'
import { PREALLOCATE_BYTES } from '../../../src/store/durable/append-log.js'
import { nodeFileOps, type FileOps } from '../../../src/store/durable/file-ops.js'

const made: string[] = []

/** A fresh directory under the OS's temp dir, removed by `removeTempDirs`. */
export function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-durable-'))
  made.push(dir)
  return dir
}

export function removeTempDirs (): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A store on the durable backend (`store.backend`). */
export type DurableStore = ChatStore<DurableChatStore>

/** A store on a durable backend in `dataDir`, once it has recovered; `store.backend` is the durable backend. */
export async function openStore (dataDir: string, options: Partial<DurableStoreOptions> = {}): Promise<DurableStore> {
  const backend = createDurableStore({
    maxItems: 100_000,
    maxBytes: 0,
    lockTimeoutMs: 60_000,
    dataDir,
    fsync: 'everysec',
    compactMinBytes: 64 * 1024 * 1024,
    compactGrowthPercent: 100,
    ...options
  })
  await backend.recovered
  return new ChatStore(backend)
}

/** Every chat of a store, by listing it page by page. */
export async function allChats (store: ChatStore): Promise<Chat[]> {
  const chats: Chat[] = []
  for (let offset = 0; ; offset += 100) {
    const page = await store.list(DEFAULT_OWNER, { limit: 100, offset })
    chats.push(...page.items)
    if (page.items.length < 100) return chats
  }
}

/** The StoreError a call fails with, or undefined when it does not fail. */
export async function failureOf (call: Promise<unknown>): Promise<StoreError | undefined> {
  try {
    await call
    return undefined
  } catch (err) {
    if (err instanceof StoreError) return err
    throw err
  }
}

export function errno (code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code })
}

export interface Faults {
  /** Writes fail with this code, after writing half of their bytes (a disk that fills up mid-record). */
  write?: string
  /** fdatasync (both kinds) fails with this code. */
  sync?: string
  /** The asynchronous fdatasync waits for this promise before it syncs. */
  holdSync?: Promise<void>
  /** Asynchronous reads wait for this promise first. */
  holdRead?: Promise<void>
}

/** Real file operations whose writes and syncs can be made to fail, and which count the syncs and the writes (of records, not the log's zeros). */
export function faultyOps (): { ops: FileOps, faults: Faults, counts: { syncs: number, writes: number } } {
  const faults: Faults = {}
  const counts = { syncs: 0, writes: 0 }
  const ops: FileOps = {
    ...nodeFileOps,
    write (fd, data, position) {
      if (data.length !== PREALLOCATE_BYTES) counts.writes++
      if (faults.write !== undefined) {
        nodeFileOps.write(fd, data.subarray(0, data.length >> 1), position)
        throw errno(faults.write)
      }
      nodeFileOps.write(fd, data, position)
    },
    fdatasync (fd) {
      if (faults.sync !== undefined) throw errno(faults.sync)
      counts.syncs++
      nodeFileOps.fdatasync(fd)
    },
    async fdatasyncAsync (fd) {
      if (faults.holdSync !== undefined) await faults.holdSync
      if (faults.sync !== undefined) throw errno(faults.sync)
      counts.syncs++
      await nodeFileOps.fdatasyncAsync(fd)
    },
    async read (fd, into, position) {
      if (faults.holdRead !== undefined) await faults.holdRead
      return await nodeFileOps.read(fd, into, position)
    }
  }
  return { ops, faults, counts }
}

/** A promise and the function that settles it. */
export function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}
