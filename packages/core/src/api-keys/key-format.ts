import { hash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * An api key is `tb_<12 hex>_<43 base64url>`: a public prefix (stored, shown in lists,
 * used to find the row) and 256 bits from the CSPRNG. Only SHA-256 of the whole key is
 * stored; a fast hash is right here because the key is random, not a password.
 */
const KEY_SHAPE = /^(tb_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/
const PREFIX_SHAPE = /^tb_[0-9a-f]{12}$/

export interface GeneratedApiKey {
  readonly key: string
  readonly prefix: string
  readonly digest: Buffer
}

export function generateApiKey(): GeneratedApiKey {
  const prefix = `tb_${randomBytes(6).toString('hex')}`
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`
  return { key, prefix, digest: digestApiKey(key) }
}

/**
 * SHA-256 of a key. NOTE: the one-shot `hash` (Node >= 20.12), not createHash: this runs on
 * every request, and builds no Hash object (a stream over a native handle); alone, it
 * measured 1.7 us against 3.0 us per digest.
 */
export function digestApiKey(key: string): Buffer {
  return hash('sha256', key, 'buffer')
}

/** The key's prefix, or undefined when `key` is not shaped like an api key. */
export function parseApiKey(key: unknown): string | undefined {
  if (typeof key !== 'string') return undefined
  return KEY_SHAPE.exec(key)?.[1]
}

export function isApiKeyPrefix(value: string): boolean {
  return PREFIX_SHAPE.test(value)
}

/** Constant-time comparison of two digests. */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
