import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { AppError } from '../../errors.js'

/** A sort position: the values of the sort fields of the last item of a page, then its id. */
export type KeyTuple = (number | string)[]

const MAC_BYTES = 16

/**
 * Opaque keyset cursors: `base64url(JSON [fingerprint, ...tuple]) . base64url(HMAC)`. The
 * fingerprint is a hash of the normalized filters and sort, so a cursor sent with other ones is
 * refused; the HMAC (a key made per store) refuses any cursor this store did not make.
 */
export class CursorCodec {
  constructor (private readonly key: Buffer = randomBytes(32)) {}

  encode (fingerprint: string, tuple: KeyTuple): string {
    const payload = Buffer.from(JSON.stringify([fingerprint, ...tuple])).toString('base64url')
    return `${payload}.${this.mac(payload).toString('base64url')}`
  }

  /** The tuple of a cursor made by `encode` with the same fingerprint; otherwise a validation problem. */
  decode (cursor: string, fingerprint: string): KeyTuple {
    const [payload, mac, extra] = cursor.split('.')
    const sent = mac === undefined ? undefined : Buffer.from(mac, 'base64url')
    if (payload === undefined || sent === undefined || extra !== undefined || sent.length !== MAC_BYTES ||
      !timingSafeEqual(sent, this.mac(payload))) {
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

/** A short hash of the normalized filters and sort a cursor belongs to. */
export function fingerprintOf (normalized: unknown): string {
  return createHash('sha256').update(JSON.stringify(normalized)).digest('base64url').slice(0, 16)
}

export function invalid (message: string): AppError {
  return new AppError('validation', `querystring/cursor ${message}`, { errors: [{ in: 'querystring', path: '/cursor', message }] })
}
