/**
 * Strong ETags derived from a chat's version: `"3"`. A chat's version grows on every update and
 * ids are never reused, so an ETag never names two states of one chat.
 */
export function etagOf (version: number): string {
  return `"${version}"`
}

const ETAG = /^\s*(W\/)?"(\d{1,15})"\s*$/

/**
 * `If-Match` as the versions it names (strong comparison: weak tags match nothing).
 * `undefined` for no header or `*`: the write is unconditional.
 */
export function parseIfMatch (header: string | undefined): number[] | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  const versions: number[] = []
  for (const part of header.split(',')) {
    const m = ETAG.exec(part)
    if (m !== null && m[1] === undefined) versions.push(Number(m[2]))
  }
  return versions
}

/** Whether `If-None-Match` names the current ETag (weak comparison, as RFC 9110 asks for GET). */
export function noneMatchHits (header: string | undefined, version: number): boolean {
  if (header === undefined) return false
  if (header.trim() === '*') return true
  for (const part of header.split(',')) {
    const m = ETAG.exec(part)
    if (m !== null && Number(m[2]) === version) return true
  }
  return false
}
