import { createHash } from 'node:crypto'

/**
 * HMAC-SHA-256 (RFC 2104) of short messages, computed in JavaScript from the key's two padded
 * blocks hashed once, when the key is set: a cursor's MAC then costs three SHA-256 blocks and no
 * call into OpenSSL, whose fixed cost per `createHmac` (a context, the key set up again, a
 * digest object) is several times the hashing of a cursor. The same bytes as `createHmac`
 * (a test checks).
 */
export class HmacSha256 {
  private readonly inner = new Int32Array(8)
  private readonly outer = new Int32Array(8)
  private readonly w = new Int32Array(64)
  private block = new Uint8Array(128)

  constructor (key: Uint8Array) {
    const k = new Uint8Array(64)
    k.set(key.length > 64 ? createHash('sha256').update(key).digest() : key)
    const pad = new Uint8Array(64)
    for (let i = 0; i < 64; i++) pad[i] = k[i]! ^ 0x36
    this.inner.set(IV)
    this.compress(this.inner, pad, 0)
    for (let i = 0; i < 64; i++) pad[i] = k[i]! ^ 0x5c
    this.outer.set(IV)
    this.compress(this.outer, pad, 0)
  }

  /** The first `length` bytes (at most 32) of the MAC of `message`'s code units, each taken as one byte (Latin-1; callers pass ASCII). */
  macLatin1 (message: string, length = 32): Buffer {
    const n = message.length
    // The message after the key's block, then 0x80, zeros and the bit length: whole blocks.
    const size = (n + 9 + 63) & ~63
    if (this.block.length < size) this.block = new Uint8Array(size)
    const b = this.block
    for (let i = 0; i < n; i++) b[i] = message.charCodeAt(i)
    b[n] = 0x80
    b.fill(0, n + 1, size)
    writeBitLength(b, size, 64 + n)
    const h = new Int32Array(this.inner)
    for (let at = 0; at < size; at += 64) this.compress(h, b, at)
    // The outer hash: the inner digest, 0x80, zeros and the bit length of 64 + 32 bytes, in one block.
    for (let i = 0; i < 8; i++) writeInt(b, i * 4, h[i]!)
    b[32] = 0x80
    b.fill(0, 33, 64)
    writeBitLength(b, 64, 96)
    h.set(this.outer)
    this.compress(h, b, 0)
    const out = Buffer.allocUnsafe(32)
    for (let i = 0; i < 8; i++) out.writeInt32BE(h[i]!, i * 4)
    return length === 32 ? out : out.subarray(0, length)
  }

  private compress (h: Int32Array, b: Uint8Array, at: number): void {
    const w = this.w
    for (let i = 0; i < 16; i++) {
      const j = at + i * 4
      w[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!
      const y = w[i - 2]!
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
    }
    let a = h[0]!
    let bb = h[1]!
    let c = h[2]!
    let d = h[3]!
    let e = h[4]!
    let f = h[5]!
    let g = h[6]!
    let hh = h[7]!
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0
      hh = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = bb
      bb = a
      a = (t1 + t2) | 0
    }
    h[0] = (h[0]! + a) | 0
    h[1] = (h[1]! + bb) | 0
    h[2] = (h[2]! + c) | 0
    h[3] = (h[3]! + d) | 0
    h[4] = (h[4]! + e) | 0
    h[5] = (h[5]! + f) | 0
    h[6] = (h[6]! + g) | 0
    h[7] = (h[7]! + hh) | 0
  }
}

function writeInt (b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24
  b[at + 1] = v >>> 16
  b[at + 2] = v >>> 8
  b[at + 3] = v
}

/** The message's length in bits, big-endian, in the last 8 bytes before `end` (messages here are far under 2^32 bits). */
function writeBitLength (b: Uint8Array, end: number, bytes: number): void {
  writeInt(b, end - 8, Math.floor(bytes / 0x20000000))
  writeInt(b, end - 4, (bytes * 8) | 0)
}

const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])
