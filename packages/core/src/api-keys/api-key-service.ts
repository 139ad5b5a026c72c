import { LRUCache } from 'lru-cache'
import type { Sql, TransactionSql } from '../db/connect.js'
import type { TenantRef } from '../db/tenant-scope.js'
import { AuthenticationError, NotFoundError, ValidationError } from '../errors.js'
import type { Tenant } from '../tenants/tenant-service.js'
import { digestApiKey, digestsEqual, generateApiKey, isApiKeyPrefix, parseApiKey } from './key-format.js'

/** A key as listed: never the key itself nor its digest. */
export interface ApiKeyInfo {
  readonly prefix: string
  readonly name: string
  readonly createdAt: Date
  readonly expiresAt: Date | null
  readonly revokedAt: Date | null
  readonly lastUsedAt: Date | null
}

/** A freshly issued key: `key` is shown once and never stored. */
export interface IssuedApiKey extends ApiKeyInfo {
  readonly key: string
}

export interface IssueApiKeyInput {
  readonly name?: string
  readonly expiresAt?: Date | null
}

/** The tenant an api key belongs to, as `resolveApiKey` returns it. */
export interface ResolvedTenant extends TenantRef {
  readonly name: string
  readonly keyPrefix: string
}

export interface ApiKeyServiceOptions {
  readonly sql: Sql
  /** How long a verified key is trusted without asking the database. 0 disables the cache. */
  readonly cacheTtlMs?: number
  readonly cacheMax?: number
  /** At most one last_used_at write per key per this many ms. */
  readonly lastUsedIntervalMs?: number
}

/** The PostgreSQL channel carrying revocations to every process's cache. */
export const API_KEY_CHANNEL = 'tenantbase_api_keys'

interface CachedKey {
  readonly digest: Buffer
  readonly keyId: number
  readonly expiresAt: number | null
  readonly tenant: ResolvedTenant
}

const MAX_NAME_LENGTH = 100

function validateIssueInput(input: IssueApiKeyInput): { name: string; expiresAt: Date | null } {
  const name = (input.name ?? 'default').trim()
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new ValidationError(`key name must be 1 to ${MAX_NAME_LENGTH} characters`, 'INVALID_KEY_NAME')
  }
  const expiresAt = input.expiresAt ?? null
  if (expiresAt !== null && (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()))) {
    throw new ValidationError('key expiry must be a valid date', 'INVALID_KEY_EXPIRY')
  }
  if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
    throw new ValidationError('key expiry must be in the future', 'INVALID_KEY_EXPIRY')
  }
  return { name, expiresAt }
}

/**
 * Inserts a new key for `tenantId` using `sql` (a pool or the caller's transaction, as in
 * tenant creation). Retries on the astronomically rare prefix collision.
 */
export async function insertApiKey(sql: Sql | TransactionSql, tenantId: number, input: IssueApiKeyInput): Promise<IssuedApiKey> {
  const { name, expiresAt } = validateIssueInput(input)
  // A prefix collision (astronomically rare) returns no row: try another key.
  for (let attempt = 0; attempt < 4; attempt++) {
    const generated = generateApiKey()
    const [row] = await sql<ApiKeyInfo[]>`
      insert into public.api_keys (tenant_id, prefix, key_hash, name, expires_at)
      values (${tenantId}, ${generated.prefix}, ${generated.digest}, ${name}, ${expiresAt})
      on conflict (prefix) do nothing
      returning prefix, name, created_at, expires_at, revoked_at, last_used_at`
    if (row) return { ...row, key: generated.key }
  }
  // Four collisions in a row mean a broken random source, not bad luck.
  throw new Error('four api key prefix collisions in a row: is the random source broken?')
}

/**
 * Api keys: issuing, listing, revoking, and resolving a presented key to its tenant.
 * Resolution is on every request's path: a bounded in-memory cache with a short TTL in
 * front of one indexed lookup, evicted across processes by NOTIFY on revocation.
 */
export function createApiKeyService(options: ApiKeyServiceOptions) {
  const { sql } = options
  const ttl = options.cacheTtlMs ?? 30_000
  const lastUsedIntervalMs = options.lastUsedIntervalMs ?? 60_000
  const cache =
    ttl > 0 && (options.cacheMax ?? 10_000) > 0
      ? new LRUCache<string, CachedKey>({ max: options.cacheMax ?? 10_000, ttl })
      : undefined
  const lastUsedWrites = new LRUCache<number, number>({ max: Math.max(options.cacheMax ?? 10_000, 1000) })

  function evict(message: string): void {
    if (!cache) return
    if (message.startsWith('key:')) cache.delete(message.slice(4))
    else if (message.startsWith('tenant:')) {
      const tenantId = Number(message.slice(7))
      for (const [prefix, entry] of cache.entries()) if (entry.tenant.id === tenantId) cache.delete(prefix)
    } else cache.clear()
  }

  function touch(keyId: number): void {
    const now = Date.now()
    if (now - (lastUsedWrites.get(keyId) ?? 0) < lastUsedIntervalMs) return
    lastUsedWrites.set(keyId, now)
    // Fire and forget: a lost last_used_at write must never fail a request.
    sql`update public.api_keys set last_used_at = now() where id = ${keyId}`.catch(() => lastUsedWrites.delete(keyId))
  }

  async function issueApiKey(tenant: TenantRef, input: IssueApiKeyInput = {}): Promise<IssuedApiKey> {
    const [exists] = await sql`select 1 from public.tenants where id = ${tenant.id}`
    if (!exists) throw new NotFoundError(`tenant ${tenant.schemaName} does not exist`, 'TENANT_NOT_FOUND')
    return insertApiKey(sql, tenant.id, input)
  }

  async function listApiKeys(tenant: TenantRef): Promise<ApiKeyInfo[]> {
    return sql<ApiKeyInfo[]>`
      select prefix, name, created_at, expires_at, revoked_at, last_used_at
      from public.api_keys where tenant_id = ${tenant.id} order by id`
  }

  /** Revokes one key by its public prefix; every process forgets it within a NOTIFY's latency. */
  async function revokeApiKey(prefix: string): Promise<ApiKeyInfo> {
    if (!isApiKeyPrefix(prefix)) {
      throw new ValidationError('a key prefix looks like tb_ followed by 12 hex digits', 'INVALID_KEY_PREFIX')
    }
    const row = await sql.begin(async (tx) => {
      const [revoked] = await tx<ApiKeyInfo[]>`
        update public.api_keys set revoked_at = coalesce(revoked_at, now()) where prefix = ${prefix}
        returning prefix, name, created_at, expires_at, revoked_at, last_used_at`
      if (revoked) await tx`select pg_notify(${API_KEY_CHANNEL}, ${'key:' + prefix})`
      return revoked
    })
    if (!row) throw new NotFoundError(`no api key with prefix ${prefix}`, 'API_KEY_NOT_FOUND')
    evict(`key:${prefix}`)
    return row
  }

  /**
   * The tenant of a presented key. Unknown, revoked, expired and malformed keys all get the
   * same {@link AuthenticationError}, so a caller learns nothing about which it was.
   */
  async function resolveApiKey(key: unknown): Promise<ResolvedTenant> {
    // NOTE: built only when thrown: an Error captures a stack trace, which cost ~5% of an
    // authenticated request's CPU when it was built on every call of this hot path.
    const rejected = () => new AuthenticationError('invalid api key', 'INVALID_API_KEY')
    const prefix = parseApiKey(key)
    if (prefix === undefined) throw rejected()
    const digest = digestApiKey(key as string)

    const cached = cache?.get(prefix)
    if (cached) {
      if (!digestsEqual(cached.digest, digest)) throw rejected()
      if (cached.expiresAt !== null && cached.expiresAt <= Date.now()) {
        cache?.delete(prefix)
        throw rejected()
      }
      touch(cached.keyId)
      return cached.tenant
    }

    const [row] = await sql<
      { keyId: number; keyHash: Buffer; expiresAt: Date | null; revokedAt: Date | null; tenantId: number; name: string; schemaName: string }[]
    >`
      select k.id as key_id, k.key_hash, k.expires_at, k.revoked_at, t.id as tenant_id, t.name, t.schema_name
      from public.api_keys k join public.tenants t on t.id = k.tenant_id
      where k.prefix = ${prefix}`
    if (!row || !digestsEqual(row.keyHash, digest) || row.revokedAt !== null) throw rejected()
    if (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now()) throw rejected()

    const tenant: ResolvedTenant = { id: row.tenantId, schemaName: row.schemaName, name: row.name, keyPrefix: prefix }
    cache?.set(prefix, { digest, keyId: row.keyId, expiresAt: row.expiresAt?.getTime() ?? null, tenant })
    touch(row.keyId)
    return tenant
  }

  /**
   * Subscribes this process's cache to revocations from every other process. On each
   * (re)connection the cache is cleared, since notifications sent while disconnected are lost.
   */
  async function listenForRevocations(): Promise<{ unlisten(): Promise<void> }> {
    const subscription = await sql.listen(API_KEY_CHANNEL, evict, () => cache?.clear())
    return { unlisten: () => subscription.unlisten() }
  }

  return { issueApiKey, listApiKeys, revokeApiKey, resolveApiKey, listenForRevocations, evictCachedKeys: evict }
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>
