import { join } from 'node:path'
import type { FileOps } from './file-ops.js'

/**
 * The data directory's table of contents: the snapshot (if any) and the logs to replay after it,
 * in order. It is replaced whole (temp file, fsync, rename, fsync of the directory), so at every
 * moment it names a set of complete files; files it does not name are leftovers and get removed.
 */
export interface Manifest {
  version: 1
  snapshot: string | null
  logs: string[]
  /** The number the next file made gets. */
  next: number
}

export const MANIFEST = 'MANIFEST'
const NAME = /^(?:snapshot-\d{6,}\.snap|log-\d{6,}\.aof)$/

export const logName = (n: number): string => `log-${String(n).padStart(6, '0')}.aof`
export const snapshotName = (n: number): string => `snapshot-${String(n).padStart(6, '0')}.snap`
/** Whether a name is one of ours (a data file or a temp file), which cleanup may remove when no manifest names it. */
export const isStoreFile = (name: string): boolean => NAME.test(name) || name.endsWith('.tmp')

export class ManifestError extends Error {
  override name = 'ManifestError'
}

/** The manifest, or undefined in a directory that has none yet. */
export function readManifest (ops: FileOps, dir: string): Manifest | undefined {
  const path = join(dir, MANIFEST)
  if (!ops.exists(path)) return undefined
  let value: unknown
  try {
    value = JSON.parse(ops.readText(path))
  } catch (err) {
    throw new ManifestError(`${path} is not valid JSON (${(err as Error).message})`)
  }
  const m = value as Partial<Manifest> | null
  if (m === null || typeof m !== 'object' || m.version !== 1 || !(m.snapshot === null || (typeof m.snapshot === 'string' && NAME.test(m.snapshot))) ||
    !Array.isArray(m.logs) || m.logs.length === 0 || !m.logs.every((l) => typeof l === 'string' && NAME.test(l)) ||
    typeof m.next !== 'number') {
    throw new ManifestError(`${path} does not have the expected shape (version 1, snapshot, logs, next)`)
  }
  return m as Manifest
}

/** Replaces the manifest atomically. */
export function writeManifest (ops: FileOps, dir: string, manifest: Manifest): void {
  const path = join(dir, MANIFEST)
  const temp = `${path}.tmp`
  const fd = ops.open(temp, 'w')
  try {
    ops.write(fd, Buffer.from(JSON.stringify(manifest) + '\n'), 0)
    ops.fdatasync(fd)
  } finally {
    ops.close(fd)
  }
  ops.rename(temp, path)
  ops.syncDir(dir)
}
