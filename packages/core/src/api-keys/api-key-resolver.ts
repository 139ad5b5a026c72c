import { LRUCache } from 'lru-cache'
import type { Sql } from '../db/sql.js'
import type { TenantRef } from '../db/tenant-scope.js'
import { AuthenticationError, ForbiddenError } from '../errors.js'
import type { ApiKeyScope } from './api-key-store.js'
import { digestApiKey, digestsEqual, parseApiKey } from './key-format.js'

/** Milliseconds the first use of a key waits for others to share its last_used_at write. */
const LAST_USED_BATCH_MS = 250

/**
 * The tenant of a request: the one its api key belongs to, as `resolve` returns it, or the
 * one its host name names (host-resolver.ts), with no key.
 */
export interface ResolvedTenant extends TenantRef {
  readonly name: string
  /** The key's public prefix; null when the tenant was found by the host name alone. */
  readonly keyPrefix: string | null
  /** What the key may do; `write` when found by the host name (the API then requires a user's access token). */
  readonly keyScope: ApiKeyScope
  readonly resolvedBy: 'api-key' | 'host'
}

export interface ApiKeyResolverOptions {
  readonly sql: Sql
  /** How long a verified key is trusted without asking the database. 0 disables the cache. */
  readonly cacheTtlMs?: number
  readonly cacheMax?: number
  /** At most one last_used_at write per key per this many ms. */
  readonly lastUsedIntervalMs?: number
}

interface CachedKey {
  readonly digest: Buffer
  readonly keyId: number
  readonly expiresAt: number | null
  readonly tenant: ResolvedTenant
  /** The 403 message while the tenant is suspended; null while it is active. */
  readonly suspended: string | null
}

/**
 * Throws 403 `INSUFFICIENT_SCOPE` unless the request's key may do what `needed` names. A
 * `write` key may do everything; a `read` key only reads.
 */
export function assertKeyScope(tenant: ResolvedTenant, needed: ApiKeyScope): void {
  if (needed === 'write' && tenant.keyScope !== 'write') {
    throw new ForbiddenError(`this api key has scope ${tenant.keyScope}; this request needs scope ${needed}`, 'INSUFFICIENT_SCOPE')
  }
}

/**
 * The request path's half of api keys: a presented key to its tenant. A bounded in-memory
 * cache with a short TTL in front of one indexed lookup, evicted across processes by NOTIFY
 * on revocation, rotation, and a tenant's suspension, resumption or deletion
 * (revocation-listener.ts calls the evictions). The store (api-key-store.ts) writes the keys.
 */
export function createApiKeyResolver(options: ApiKeyResolverOptions) {
  const { sql } = options
  const ttl = options.cacheTtlMs ?? 30_000
  const lastUsedIntervalMs = options.lastUsedIntervalMs ?? 60_000
  const cache =
    ttl > 0 && (options.cacheMax ?? 10_000) > 0 ? new LRUCache<string, CachedKey>({ max: options.cacheMax ?? 10_000, ttl }) : undefined
  const lastUsedWrites = new LRUCache<number, number>({ max: Math.max(options.cacheMax ?? 10_000, 1000) })

  // NOTE: off while this process does not hear revocations (revocation-listener.ts): a
  // key is then looked up on every request, so a revocation still takes effect at once.
  let caching = true
  // NOTE: bumped by every eviction. A lookup whose row was read before a revocation
  // committed, and whose answer arrives after its NOTIFY, must not put the revoked key
  // back into the cache: a lookup caches only if no eviction happened while it ran.
  let evictions = 0
  const counts = { hits: 0, misses: 0 }

  /** Forgets one key (revoked or rotated). */
  function evictKey(prefix: string): void {
    evictions++
    cache?.delete(prefix)
  }

  /** Forgets every key of a tenant (deleted, suspended or resumed). */
  function evictTenantKeys(tenantId: number): void {
    evictions++
    if (!cache) return
    for (const [prefix, entry] of cache.entries()) if (entry.tenant.id === tenantId) cache.delete(prefix)
  }

  /** Turns the cache off (emptying it) or back on. */
  function setCaching(enabled: boolean): void {
    evictions++
    caching = enabled
    if (!enabled) cache?.clear()
  }

  // Keys first used since the last write of last_used_at: written together, by one UPDATE
  // LAST_USED_BATCH_MS after the first of them, so that a burst of new keys (every tenant's
  // first request after a deploy) costs the database one statement, not one per key.
  const usedKeys = new Set<number>()
  let batch: NodeJS.Timeout | undefined

  function writeLastUsed(): void {
    batch = undefined
    const ids = [...usedKeys]
    usedKeys.clear()
    // Fire and forget: a lost last_used_at write must never fail a request (nor, unwritten
    // when the process stops, delay its exit).
    sql`update public.api_keys set last_used_at = now() where id = any(${ids}::bigint[])`.catch(() => {
      for (const id of ids) lastUsedWrites.delete(id)
    })
  }

  function touch(keyId: number): void {
    const now = Date.now()
    if (now - (lastUsedWrites.get(keyId) ?? 0) < lastUsedIntervalMs) return
    lastUsedWrites.set(keyId, now)
    usedKeys.add(keyId)
    batch ??= setTimeout(writeLastUsed, LAST_USED_BATCH_MS).unref()
  }

  /**
   * The tenant of a presented key. Unknown, revoked, expired and malformed keys all get the
   * same {@link AuthenticationError}, so a caller learns nothing about which it was. A valid
   * key of a suspended tenant gets a {@link ForbiddenError} `TENANT_SUSPENDED`.
   */
  async function resolve(key: unknown): Promise<ResolvedTenant> {
    // NOTE: built only when thrown: an Error captures a stack trace, which cost ~5% of an
    // authenticated request's CPU when it was built on every call of this hot path.
    const rejected = () => new AuthenticationError('invalid api key', 'INVALID_API_KEY')
    const suspended = (message: string) => new ForbiddenError(message, 'TENANT_SUSPENDED')
    const prefix = parseApiKey(key)
    if (prefix === undefined) throw rejected()
    const digest = digestApiKey(key as string)

    const cached = caching ? cache?.get(prefix) : undefined
    if (cached) {
      counts.hits++
      if (!digestsEqual(cached.digest, digest)) throw rejected()
      if (cached.expiresAt !== null && cached.expiresAt <= Date.now()) {
        cache?.delete(prefix)
        throw rejected()
      }
      if (cached.suspended !== null) throw suspended(cached.suspended)
      touch(cached.keyId)
      return cached.tenant
    }

    counts.misses++
    const evictionsBefore = evictions
    const [row] = await sql<
      {
        keyId: number
        keyHash: Buffer
        scope: ApiKeyScope
        expiresAt: Date | null
        revokedAt: Date | null
        tenantId: number
        name: string
        schemaName: string
        suspendedAt: Date | null
        suspensionReason: string | null
        suspensionReasonPublic: boolean
      }[]
    >`
      select k.id as key_id, k.key_hash, k.scope, k.expires_at, k.revoked_at, t.id as tenant_id, t.name, t.schema_name,
        t.suspended_at, t.suspension_reason, t.suspension_reason_public
      from public.api_keys k join public.tenants t on t.id = k.tenant_id
      where k.prefix = ${prefix}`
    if (!row || !digestsEqual(row.keyHash, digest) || row.revokedAt !== null) throw rejected()
    if (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now()) throw rejected()

    const tenant: ResolvedTenant = {
      id: row.tenantId,
      schemaName: row.schemaName,
      name: row.name,
      keyPrefix: prefix,
      keyScope: row.scope,
      resolvedBy: 'api-key',
    }
    const suspension =
      row.suspendedAt === null
        ? null
        : `this tenant is suspended${row.suspensionReasonPublic && row.suspensionReason ? `: ${row.suspensionReason}` : ''}`
    if (caching && evictions === evictionsBefore)
      cache?.set(prefix, { digest, keyId: row.keyId, expiresAt: row.expiresAt?.getTime() ?? null, tenant, suspended: suspension })
    if (suspension !== null) throw suspended(suspension)
    touch(row.keyId)
    return tenant
  }

  return {
    resolve,
    evictKey,
    evictTenantKeys,
    setCaching,
    /** Lookups answered from the cache and from the database since start, for metrics. */
    cacheCounts: (): Readonly<typeof counts> => ({ ...counts }),
  }
}

export type ApiKeyResolver = ReturnType<typeof createApiKeyResolver>
