import * as fs from 'node:fs'

/**
 * The few file operations durability needs, behind an interface so that tests can make any of
 * them fail (a full disk, an I/O error) without a real broken disk.
 */
export interface FileOps {
  open (path: string, flags: 'r' | 'r+' | 'w'): number
  /** write(2) at `position`, all of `data` or a throw; after a throw part of it may be in the file. */
  write (fd: number, data: Buffer, position: number): void
  read (fd: number, into: Buffer, position: number): Promise<number>
  size (fd: number): number
  truncate (fd: number, length: number): void
  fdatasync (fd: number): void
  fdatasyncAsync (fd: number): Promise<void>
  close (fd: number): void
  rename (from: string, to: string): void
  unlink (path: string): void
  /** fsync on the directory itself, so that a rename or a new file in it survives a power cut. */
  syncDir (dir: string): void
  list (dir: string): string[]
  exists (path: string): boolean
  mkdir (dir: string): void
  readText (path: string): string
}

export const nodeFileOps: FileOps = {
  open: (path, flags) => fs.openSync(path, flags),
  write (fd, data, position) {
    let done = 0
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done)
  },
  read: (fd, into, position) => new Promise((resolve, reject) => {
    fs.read(fd, into, 0, into.length, position, (err, n) => { if (err === null) resolve(n); else reject(err) })
  }),
  size: (fd) => fs.fstatSync(fd).size,
  truncate: (fd, length) => { fs.ftruncateSync(fd, length) },
  fdatasync: (fd) => { fs.fdatasyncSync(fd) },
  fdatasyncAsync: (fd) => new Promise((resolve, reject) => {
    fs.fdatasync(fd, (err) => { if (err === null) resolve(); else reject(err) })
  }),
  close: (fd) => { fs.closeSync(fd) },
  rename: (from, to) => { fs.renameSync(from, to) },
  unlink: (path) => { fs.unlinkSync(path) },
  syncDir (dir) {
    const fd = fs.openSync(dir, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  list: (dir) => fs.readdirSync(dir),
  exists: (path) => fs.existsSync(path),
  mkdir: (dir) => { fs.mkdirSync(dir, { recursive: true }) },
  readText: (path) => fs.readFileSync(path, 'utf8')
}
