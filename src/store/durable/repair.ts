import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { nodeFileOps, type FileOps } from './file-ops.js'
import { logName, snapshotName, writeManifest } from './manifest.js'
import { recover, type Cut } from './recovery.js'
import { createLog, writeSnapshot } from './snapshot.js'

export interface RepairResult {
  /** Where each damaged file was cut; empty when there was nothing to repair. */
  cuts: Cut[]
  chats: number
  /** The directory the replaced files were moved to. */
  movedTo?: string
}

/**
 * Repairs a data directory that recovery refuses: every damaged file is read up to its damage
 * (what follows is dropped), the result is written as a fresh snapshot with an empty log (and
 * change feeds that start again), and the old files are moved into `damaged-<time>/` beside them rather than deleted.
 */
export async function repair (dir: string, ops: FileOps = nodeFileOps): Promise<RepairResult> {
  const found = await recover(ops, dir, { repair: true })
  if (found.manifest === undefined || found.cuts.length === 0) return { cuts: found.cuts, chats: found.chats().size }
  const n = found.manifest.next
  const log = createLog(ops, dir, logName(n))
  ops.close(log.fd)
  // Changes after the damage are lost, and clients may have seen them: the feeds start again
  // (every earlier position is then older than the origin: a 410, and the client lists again).
  // The history and the keys of what is kept stay.
  const origin = Date.now() * 1000
  const extras = { feeds: { counter: origin, origin, floors: [], records: [] }, versions: found.extras.versions(), keys: found.extras.keys }
  await writeSnapshot(ops, dir, snapshotName(n), [...found.chats().values()], undefined, [], extras)
  writeManifest(ops, dir, { version: 1, snapshot: snapshotName(n), logs: [logName(n)], next: n + 1 })
  const aside = join(dir, `damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  ops.mkdir(aside)
  for (const name of [found.manifest.snapshot, ...found.manifest.logs]) {
    if (name !== null) ops.rename(join(dir, name), join(aside, name))
  }
  // Both directories changed: the old files left one and entered the other.
  ops.syncDir(aside)
  ops.syncDir(dir)
  return { cuts: found.cuts, chats: found.chats().size, movedTo: aside }
}

/** `npm run repair -- <DATA_DIR>`, or `node dist/store/durable/repair.js <DATA_DIR>`. Answers the exit code. */
export async function main (args: string[], out: (line: string) => void = (l) => { process.stdout.write(`${l}\n`) }): Promise<number> {
  const [dir] = args
  if (dir === undefined || args.length !== 1) {
    out('usage: npm run repair -- <DATA_DIR>   (or node dist/store/durable/repair.js <DATA_DIR>)')
    return 2
  }
  if (!existsSync(dir)) {
    out(`${dir}: no such directory`)
    return 1
  }
  try {
    const result = await repair(resolve(dir))
    if (result.movedTo === undefined) {
      out(`${dir}: nothing to repair (${result.chats} chats load cleanly)`)
      return 0
    }
    for (const cut of result.cuts) out(`cut ${cut.file} at byte offset ${cut.offset}: ${cut.reason}`)
    out(`${dir}: repaired, ${result.chats} chats kept; the old files are in ${result.movedTo}`)
    return 0
  } catch (err) {
    out(`${dir}: cannot repair: ${(err as Error).message}`)
    return 1
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2))
}
