import { join } from 'node:path'
import type { IndexImage } from '../memory/index-image.js'
import { feedRecordOf, type Change, type ChatRecord, type FeedRecord, type KeptKey } from '../records.js'
import { StringTable } from '../memory/string-table.js'
import type { FileOps } from './file-ops.js'
import { isStoreFile, readManifest, type Manifest } from './manifest.js'
import { FileKind, HEADER_BYTES, type Entry } from './record-codec.js'
import { IndexImageReader } from './index-codec.js'
import { scanFile } from './snapshot.js'

export const REPAIR_COMMAND = 'npm run repair --'

/** Damage recovery will not pass over: the start stops, naming the file and the offset. */
export class RecoveryError extends Error {
  override name = 'RecoveryError'
  constructor (readonly file: string, readonly offset: number | undefined, reason: string, dir: string, repairable = true) {
    super(`${file}${offset === undefined ? '' : ` at byte offset ${offset}`}: ${reason}. The store did not start. ` +
      (repairable
        ? `To keep everything before the damage, run: ${REPAIR_COMMAND} ${dir} (or node dist/store/durable/repair.js ${dir}); it moves the damaged files aside.`
        : 'Repair cannot rebuild what a missing file held: restore it from a backup.'))
  }
}

/** A place where repair cut a file: what came after `offset` is dropped. */
export interface Cut { file: string, offset: number, reason: string }

export interface Recovered {
  /**
   * Every chat, by id, in id order. Made on the first call when there is an `image` (which holds
   * them already, so that a start from it builds no map of a million ids for nothing).
   */
  chats: () => ChatsById
  /** Undefined in a directory that held no store yet. */
  manifest: Manifest | undefined
  /** Where the last log's good records end: appends continue there. */
  logEnd: number
  /** Runs of zeros between good records that the logs hold (see `scanFile`); a compaction rewrites them away. */
  gaps: number
  snapshotBytes: number
  /** Torn tails cut off (at most one, in the last log), and in repair mode every cut. */
  cuts: Cut[]
  /**
   * The indexes the snapshot saved, for its chats, when it saved them and the logs after it are
   * short enough (at most a third of its chats) for `tail` to be merged into them
   * (`ChatIndexes.loadImage`) at less cost than building them again.
   */
  image?: IndexImage
  /** With `image`: the logs' changes, in order. */
  tail: Change[]
  /** What the store keeps besides the chats (`MemoryChatStore.restoreExtras`). */
  extras: RecoveredExtras
}

/** The feeds, older versions and keys, from the snapshot and the logs (empty for files written before they existed). */
export interface RecoveredExtras {
  /** The snapshot's feed state; undefined when it has none. */
  state: { counter: number, origin: number } | undefined
  floors: [string, number][]
  /** The snapshot's kept changes, then (`changes`) the logs'. */
  feed: FeedRecord[]
  changes: FeedRecord[]
  /**
   * Versions of chats that may be older than their current one: the snapshot's, the snapshot's
   * chats that the logs changed, and every version the logs put (`restoreExtras` keeps those
   * older than the current one).
   */
  versions: () => ChatRecord[]
  keys: KeptKey[]
}

/**
 * The most changes a log may add to a snapshot's saved indexes, as a share of its chats (1/3),
 * before building them again is cheaper: merging a change costs about what building a chat
 * does, twice over (its words and keys, and its old ones taken out), plus the loading of the rest.
 */
const TAIL_SHARE = 3

export interface RecoverOptions {
  /** Repair mode: cut every damaged file at its damage and go on, instead of refusing. */
  repair?: boolean
  warn?: (message: string) => void
}

/**
 * Loads a data directory: the snapshot the manifest names, then its logs in order. A torn last
 * record of the last log (a crash mid-write) is cut off with a warning, like Redis's
 * aof-load-truncated; any other damage throws a RecoveryError.
 */
export async function recover (ops: FileOps, dir: string, options: RecoverOptions = {}): Promise<Recovered> {
  const warn = options.warn ?? (() => undefined)
  ops.mkdir(dir)
  const manifest = readManifest(ops, dir)
  /** The snapshot's chats, in its order (id order). */
  const puts: ChatRecord[] = []
  /** Every chat: the snapshot's with the logs applied; left unmade while the logs go to `tail`. */
  let chats: ChatsById | undefined
  const apply = (entry: Entry): void => {
    if (entry.op === 'put') chats!.put(entry.chat)
    else if (entry.op === 'delete') chats!.delete(entry.id)
  }
  const allChats = (): ChatsById => {
    if (chats === undefined) {
      chats = new ChatsById(puts.length)
      for (const chat of puts) chats.put(chat)
      for (const change of result.tail) apply(change)
    }
    return chats
  }
  /** Every version the logs put, by chat, until a delete. */
  const logPuts = new Map<string, ChatRecord[]>()
  const snapshotVersions: ChatRecord[] = []
  const extras: RecoveredExtras = {
    state: undefined,
    floors: [],
    feed: [],
    changes: [],
    keys: [],
    versions: () => {
      const all = [...snapshotVersions]
      for (const chat of puts) if (logPuts.has(chat.id)) all.push(chat)
      for (const list of logPuts.values()) all.push(...list)
      return all
    }
  }
  /** What a log's change adds besides the chats. */
  const collect = (entry: Change): void => {
    if (entry.op === 'put') {
      let list = logPuts.get(entry.chat.id)
      if (list === undefined) logPuts.set(entry.chat.id, list = [])
      list.push(entry.chat)
      if (entry.key !== undefined) extras.keys.push({ ...entry.key, chat: entry.chat })
    } else {
      logPuts.delete(entry.id)
    }
    const record = feedRecordOf(entry, undefined)
    if (record !== undefined) extras.changes.push(record)
  }
  const result: Recovered = { chats: allChats, manifest, logEnd: HEADER_BYTES, gaps: 0, snapshotBytes: 0, cuts: [], tail: [], extras }
  /** Gives up the saved indexes: the logs are applied to the map of chats instead. */
  const dropImage = (): void => {
    allChats()
    result.image = undefined
    result.tail = []
  }
  if (manifest === undefined) {
    const strays = ops.list(dir).filter((name) => isStoreFile(name) && !name.endsWith('.tmp'))
    if (strays.length > 0) throw new RecoveryError(join(dir, 'MANIFEST'), undefined, `is missing but the directory holds data files (${strays.join(', ')})`, dir, false)
    return result
  }
  if (manifest.snapshot !== null) {
    const path = join(dir, manifest.snapshot)
    if (!ops.exists(path)) throw new RecoveryError(path, undefined, 'is named by the MANIFEST but missing', dir, false)
    let ended: number | undefined
    const pieces = new IndexImageReader()
    const scan = await scanFile(ops, path, FileKind.snapshot, (entry) => {
      if (ended !== undefined) throw new RecoveryError(path, undefined, 'has records after its end record', dir)
      if (entry.op === 'end') ended = entry.count
      else if (entry.op === 'put') puts.push(entry.chat)
      else if (entry.op === 'index') pieces.add(entry.bytes)
      else if (entry.op === 'version') snapshotVersions.push(entry.chat)
      else if (entry.op === 'feed') {
        const record = feedRecordOf(entry.change, undefined)
        if (record !== undefined) extras.feed.push(record)
      } else if (entry.op === 'key') extras.keys.push(entry.kept)
      else if (entry.op === 'floor') extras.floors.push([entry.owner, entry.seq])
      else if (entry.op === 'state') extras.state = { counter: entry.counter, origin: entry.origin }
    })
    let problem = scan.damage
    if (problem === undefined && ended === undefined) problem = { offset: scan.end, reason: 'the snapshot ends before its end record (it was cut short)', tail: false }
    if (problem === undefined && ended !== puts.length) problem = { offset: scan.end, reason: `the end record counts ${ended} chats but the snapshot holds ${puts.length}`, tail: false }
    if (problem !== undefined) {
      if (options.repair !== true) throw new RecoveryError(path, problem.offset, problem.reason, dir)
      result.cuts.push({ file: path, offset: problem.offset, reason: problem.reason })
    } else if (pieces.started) {
      try {
        result.image = pieces.decode(puts)
      } catch (err) {
        warn(`${path}: its saved indexes are not usable (${(err as Error).message}); they are built from the chats instead`)
      }
    }
    result.snapshotBytes = scan.size
  }
  if (result.image === undefined) allChats()
  const tailMax = puts.length / TAIL_SHARE
  const replay = (entry: Entry): void => {
    if (entry.op === 'put' || entry.op === 'delete') collect(entry)
    if (result.image !== undefined && (entry.op === 'put' || entry.op === 'delete') && result.tail.length >= tailMax) dropImage()
    if (result.image === undefined) apply(entry)
    else if (entry.op === 'put' || entry.op === 'delete') result.tail.push(entry)
  }

  for (const [i, name] of manifest.logs.entries()) {
    const path = join(dir, name)
    const last = i === manifest.logs.length - 1
    if (!ops.exists(path)) throw new RecoveryError(path, undefined, 'is named by the MANIFEST but missing', dir, false)
    const scan = await scanFile(ops, path, FileKind.log, replay)
    for (const gap of scan.gaps) {
      warn(`${path}: ${gap.length} bytes of zeros at byte offset ${gap.offset}, between good records (left by an earlier build that appended after preallocated space); both sides are kept, and the next compaction rewrites the log`)
    }
    result.gaps += scan.gaps.length
    let end = scan.end
    if (scan.damage !== undefined) {
      const { offset, reason, tail } = scan.damage
      if (!(last && tail) && options.repair !== true) throw new RecoveryError(path, offset, reason, dir)
      // The log is cut here when it is opened for appending (`AppendLog`).
      if (last && tail) warn(`${path}: ${reason} at byte offset ${offset}, the trace of a crash mid-write; cutting ${scan.size - offset} bytes off the end`)
      result.cuts.push({ file: path, offset, reason })
      end = offset
    }
    if (last) result.logEnd = end
  }
  if (result.cuts.length > 0 && options.repair === true) dropImage()
  return result
}

/**
 * The chats by id as recovery applies the logs to them, in the order first put (a chat put again
 * keeps its place, a deleted one leaves it), as a `Map` keeps them, without a `Map`'s heap entry
 * a chat (see `StringTable`).
 */
export class ChatsById {
  private readonly rows: (ChatRecord | undefined)[] = []
  private readonly rowOf = new StringTable((row) => this.rows[row]!.id)

  constructor (expected = 0) {
    this.rowOf.reserve(expected)
  }

  get size (): number { return this.rowOf.size }

  put (chat: ChatRecord): void {
    const row = this.rowOf.addIfAbsent(chat.id, this.rows.length)
    if (row === undefined) this.rows.push(chat)
    else this.rows[row] = chat
  }

  delete (id: string): void {
    const row = this.rowOf.delete(id)
    if (row !== undefined) this.rows[row] = undefined
  }

  * values (): Generator<ChatRecord> {
    for (const chat of this.rows) if (chat !== undefined) yield chat
  }
}

/** Removes what no manifest names: files of an interrupted compaction, temp files. */
export function removeLeftovers (ops: FileOps, dir: string, manifest: Manifest, warn: (message: string) => void = () => undefined): void {
  const keep = new Set([manifest.snapshot, ...manifest.logs])
  for (const name of ops.list(dir)) {
    if (!isStoreFile(name) || keep.has(name)) continue
    try {
      ops.unlink(join(dir, name))
    } catch (err) {
      warn(`could not remove ${join(dir, name)}: ${(err as Error).message}`)
    }
  }
}
