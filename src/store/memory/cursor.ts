import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { StoreError } from '../errors.js'

/** A sort position: the values of the sort fields of the last item of a page, then its id. */
export type KeyTuple = (number | string)[]

const MAC_BYTES = 16
const BASE64URL = /^[A-Za-z0-9_-]+$/
const MAX_MADE = 256

/**
 * Opaque keyset cursors: `base64url(JSON [fingerprint, ...tuple]) . base64url(HMAC)`. The
 * fingerprint is a hash of the normalized filters and sort, so a cursor sent with other ones is
 * refused; the HMAC (a key made per store) refuses any cursor this store did not make.
 */
export class CursorCodec {
  /**
   * Cursors made lately, by the item they follow: a record is never changed (a write swaps in a
   * new one), so a record and a fingerprint (filters and sort) always make the same cursor. The
   * first page of a query asked again ends where it did. At most 256 (each holds its record).
   */
  private readonly made = new Map<object, { fingerprint: string, cursor: string }>()

  constructor (private readonly key: Buffer = randomBytes(32)) {}

  encode (fingerprint: string, tuple: KeyTuple): string {
    const payload = Buffer.from(JSON.stringify([fingerprint, ...tuple])).toString('base64url')
    return `${payload}.${this.mac(payload).toString('base64url')}`
  }

  /** `encode(fingerprint, tupleOf())` for the position of `item`, an immutable record whose values make the tuple. */
  encodeAfter (item: object, fingerprint: string, tupleOf: () => KeyTuple): string {
    const made = this.made.get(item)
    if (made?.fingerprint === fingerprint) return made.cursor
    const cursor = this.encode(fingerprint, tupleOf())
    if (made === undefined && this.made.size >= MAX_MADE) this.made.delete(this.made.keys().next().value!)
    this.made.set(item, { fingerprint, cursor })
    return cursor
  }

  /** The tuple of a cursor made by `encode` with the same fingerprint; otherwise a validation problem. */
  decode (cursor: string, fingerprint: string): KeyTuple {
    const [payload, mac, extra] = cursor.split('.')
    const sent = mac === undefined ? undefined : Buffer.from(mac, 'base64url')
    // Anything but base64url is refused before the MAC is computed.
    if (payload === undefined || sent === undefined || extra !== undefined || sent.length !== MAC_BYTES ||
      !BASE64URL.test(payload) || !timingSafeEqual(sent, this.mac(payload))) {
      throw invalid('is not a cursor this service made, or was altered')
    }
    const values = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown[]
    if (values[0] !== fingerprint) throw invalid('was made for other filters or another sort; send it with the same ones')
    return values.slice(1) as KeyTuple
  }

  private mac (payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, MAC_BYTES)
  }
}

/** Fingerprints by normalized query: a few distinct queries make most pages. Cleared when full. */
const fingerprints = new Map<string, string>()
const MAX_FINGERPRINTS = 256

/** A short hash of the normalized filters and sort a cursor belongs to. */
export function fingerprintOf (normalized: unknown): string {
  return fingerprintOfJson(JSON.stringify(normalized))
}

/** `fingerprintOf` of a value given as its JSON. */
export function fingerprintOfJson (json: string): string {
  let fingerprint = fingerprints.get(json)
  if (fingerprint === undefined) {
    fingerprint = createHash('sha256').update(json).digest('base64url').slice(0, 16)
    if (fingerprints.size >= MAX_FINGERPRINTS) fingerprints.clear()
    fingerprints.set(json, fingerprint)
  }
  return fingerprint
}

export function invalid (message: string): StoreError {
  return new StoreError('invalid', `/cursor ${message}`, { fields: [{ source: 'query', field: '/cursor', message }] })
}
