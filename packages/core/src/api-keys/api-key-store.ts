import type { Sql, TransactionSql } from '../db/sql.js'
import type { TenantRef } from '../db/tenant-scope.js'
import { recordAuditEvent } from '../audit/audit-log.js'
import { ConflictError, CoreError, NotFoundError, ValidationError } from '../errors.js'
import { notifyRevocation } from '../revocations/revocation-channel.js'
import { digestApiKey, digestsEqual, generateApiKey, isApiKeyPrefix, parseApiKey } from './key-format.js'

/** What a key may do: `read` calls GET routes only, `write` everything. */
export const API_KEY_SCOPES = ['read', 'write'] as const
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number]

/** A key as listed: never the key itself nor its digest. */
export interface ApiKeyInfo {
  readonly prefix: string
  readonly name: string
  readonly scope: ApiKeyScope
  readonly createdAt: Date
  readonly expiresAt: Date | null
  readonly revokedAt: Date | null
  /** The prefix of the key a rotation replaced this one with. */
  readonly rotatedTo: string | null
  readonly lastUsedAt: Date | null
}

/** The columns of an {@link ApiKeyInfo}. */
const KEY_COLUMNS = 'prefix, name, scope, created_at, expires_at, revoked_at, rotated_to, last_used_at'

/** Whether a key works: `active` until it is revoked or its expiry has passed. */
export type ApiKeyStatus = 'active' | 'revoked' | 'expired'

/** A key as `listApiKeys` returns it: with its status, as the database sees it now. */
export interface ListedApiKey extends ApiKeyInfo {
  readonly status: ApiKeyStatus
}

/** The columns of a {@link ListedApiKey}: revoked wins over expired. */
const LISTED_KEY_COLUMNS = `${KEY_COLUMNS},
  case when revoked_at is not null then 'revoked' when expires_at <= now() then 'expired' else 'active' end as status`

/** A freshly issued key: `key` is shown once and never stored. */
export interface IssuedApiKey extends ApiKeyInfo {
  readonly key: string
}

export interface IssueApiKeyInput {
  readonly name?: string
  readonly expiresAt?: Date | null
  /** Default `write`. */
  readonly scope?: string
}

export interface RotateApiKeyInput {
  /** How long the old key keeps working, in ms; 0 revokes it at once. It never outlives its own expiry. */
  readonly graceMs: number
  /** The new key's name (default: the old key's). */
  readonly name?: string
}

/** A rotation's result: the old key as it is now, and the new key (shown once). */
export interface RotatedApiKey {
  readonly old: ApiKeyInfo
  readonly issued: IssuedApiKey
}

export interface ApiKeyStoreOptions {
  readonly sql: Sql
  /** Who issues, rotates and revokes keys through this store, for the audit log. */
  readonly actor?: string
  /** Called with the prefix of a key revoked or rotated here, once committed (this process's resolver forgets it). */
  readonly onKeyChanged?: (prefix: string) => void
}

/** The longest api key name, in characters, once trimmed. */
export const MAX_KEY_NAME_LENGTH = 100

function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly unknown[]).includes(value)
}

function validateIssueInput(input: IssueApiKeyInput): { name: string; expiresAt: Date | null; scope: ApiKeyScope } {
  const name = (input.name ?? 'default').trim()
  if (name.length === 0 || name.length > MAX_KEY_NAME_LENGTH) {
    throw new ValidationError(`key name must be 1 to ${MAX_KEY_NAME_LENGTH} characters`, 'INVALID_KEY_NAME')
  }
  const expiresAt = input.expiresAt ?? null
  if (expiresAt !== null && (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()))) {
    throw new ValidationError('key expiry must be a valid date', 'INVALID_KEY_EXPIRY')
  }
  if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
    throw new ValidationError('key expiry must be in the future', 'INVALID_KEY_EXPIRY')
  }
  const scope = input.scope ?? 'write'
  if (!isApiKeyScope(scope)) {
    throw new ValidationError(`key scope must be one of ${API_KEY_SCOPES.join(', ')} (got "${String(scope)}")`, 'INVALID_KEY_SCOPE')
  }
  return { name, expiresAt, scope }
}

/**
 * Inserts a new key for `tenantId` using `sql` (a pool or the caller's transaction, as in
 * tenant creation). Retries on the astronomically rare prefix collision.
 */
export async function insertApiKey(sql: Sql | TransactionSql, tenantId: number, input: IssueApiKeyInput): Promise<IssuedApiKey> {
  const { name, expiresAt, scope } = validateIssueInput(input)
  // A prefix collision (astronomically rare) returns no row: try another key.
  for (let attempt = 0; attempt < 4; attempt++) {
    const generated = generateApiKey()
    const [row] = await sql<ApiKeyInfo[]>`
      insert into public.api_keys (tenant_id, prefix, key_hash, name, expires_at, scope)
      values (${tenantId}, ${generated.prefix}, ${generated.digest}, ${name}, ${expiresAt}, ${scope})
      on conflict (prefix) do nothing
      returning ${sql.unsafe(KEY_COLUMNS)}`
    if (row) return { ...row, key: generated.key }
  }
  // Four collisions in a row mean a broken random source, not bad luck.
  throw new CoreError('KEY_PREFIX_COLLISIONS', 'four api key prefix collisions in a row: is the random source broken?')
}

/** The prefix named by a prefix or a full key, or a {@link ValidationError}. */
function prefixOf(prefixOrKey: string): { prefix: string; key: string | undefined } {
  const fromKey = parseApiKey(prefixOrKey)
  if (fromKey !== undefined) return { prefix: fromKey, key: prefixOrKey }
  if (typeof prefixOrKey === 'string' && isApiKeyPrefix(prefixOrKey)) return { prefix: prefixOrKey, key: undefined }
  throw new ValidationError('a key is named by its prefix (tb_ followed by 12 hex digits) or by the whole key', 'INVALID_KEY_PREFIX')
}

/**
 * The store of api keys, for operators: issuing, listing, rotating and revoking, each audited,
 * each revocation or rotation announced by NOTIFY to every process's resolver
 * (api-key-resolver.ts, which owns the request path).
 */
export function createApiKeyStore(options: ApiKeyStoreOptions) {
  const { sql } = options
  const actor = options.actor ?? 'unknown'
  const onKeyChanged = options.onKeyChanged ?? (() => {})

  async function issueApiKey(tenant: TenantRef, input: IssueApiKeyInput = {}): Promise<IssuedApiKey> {
    return sql.begin(async (tx) => {
      const [exists] = await tx<{ schemaName: string }[]>`select schema_name from public.tenants where id = ${tenant.id} for key share`
      if (!exists) throw new NotFoundError(`tenant ${tenant.schemaName} does not exist`, 'TENANT_NOT_FOUND')
      const issued = await insertApiKey(tx, tenant.id, input)
      await recordAuditEvent(tx, actor, {
        action: 'key.create',
        tenantId: tenant.id,
        schemaName: exists.schemaName,
        keyPrefix: issued.prefix,
        detail: { name: issued.name, scope: issued.scope, expiresAt: issued.expiresAt },
      })
      return issued
    })
  }

  async function listApiKeys(tenant: TenantRef): Promise<ListedApiKey[]> {
    return sql<ListedApiKey[]>`
      select ${sql.unsafe(LISTED_KEY_COLUMNS)}
      from public.api_keys where tenant_id = ${tenant.id} order by id`
  }

  /**
   * Revokes one key, named by its public prefix or by the whole key (pasted from where it
   * was stored: a whole key must match its digest, and is never echoed). Every process
   * forgets it within a NOTIFY's latency. A key revoked before is left as it was, with
   * `alreadyRevoked` (and no second audit event).
   */
  async function revokeApiKey(prefixOrKey: string): Promise<ApiKeyInfo & { readonly alreadyRevoked: boolean }> {
    const { prefix, key } = prefixOf(prefixOrKey)
    // A whole key must be that key, not just share its prefix.
    const digest = key === undefined ? null : digestApiKey(key)
    const result = await sql.begin(async (tx) => {
      const [revoked] = await tx<(ApiKeyInfo & { tenantId: number })[]>`
        update public.api_keys set revoked_at = now()
        where prefix = ${prefix} and revoked_at is null and (${digest}::bytea is null or key_hash = ${digest})
        returning ${tx.unsafe(KEY_COLUMNS)}, tenant_id`
      if (revoked) {
        await notifyRevocation(tx, 'key', prefix)
        await recordAuditEvent(tx, actor, {
          action: 'key.revoke',
          tenantId: revoked.tenantId,
          schemaName: await schemaNameOf(tx, revoked.tenantId),
          keyPrefix: prefix,
          detail: { name: revoked.name },
        })
        const { tenantId: _tenantId, ...info } = revoked
        return { ...info, alreadyRevoked: false }
      }
      const [before] = await tx<ApiKeyInfo[]>`
        select ${tx.unsafe(KEY_COLUMNS)} from public.api_keys
        where prefix = ${prefix} and revoked_at is not null and (${digest}::bytea is null or key_hash = ${digest})`
      return before && { ...before, alreadyRevoked: true }
    })
    if (!result) throw new NotFoundError(`no api key with prefix ${prefix}${digest ? ' and that secret' : ''}`, 'API_KEY_NOT_FOUND')
    onKeyChanged(prefix)
    return result
  }

  async function schemaNameOf(tx: TransactionSql, tenantId: number): Promise<string | null> {
    const [tenant] = await tx<{ schemaName: string }[]>`select schema_name from public.tenants where id = ${tenantId}`
    return tenant?.schemaName ?? null
  }

  /**
   * Issues a new key for the same tenant, with the same scope and expiry, and lets the old
   * one expire at `min(now + grace, its own expiry)`: a rotation never extends an expiry.
   * A grace of 0 revokes the old key at once. A revoked, expired or already rotated key
   * cannot be rotated. Every process re-reads the old key within a NOTIFY's latency, and
   * no cache serves it past its new expiry.
   */
  async function rotateApiKey(prefixOrKey: string, input: RotateApiKeyInput): Promise<RotatedApiKey> {
    const { prefix, key } = prefixOf(prefixOrKey)
    const graceMs = input.graceMs
    if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0) {
      throw new ValidationError('the grace period must be a duration of 0 or more', 'INVALID_GRACE')
    }
    const rotated = await sql.begin(async (tx) => {
      const [old] = await tx<
        {
          tenantId: number
          keyHash: Buffer
          name: string
          scope: ApiKeyScope
          expiresAt: Date | null
          revokedAt: Date | null
          rotatedTo: string | null
          expired: boolean
        }[]
      >`
        select tenant_id, key_hash, name, scope, expires_at, revoked_at, rotated_to, expires_at <= now() as expired
        from public.api_keys where prefix = ${prefix} for update`
      if (!old || (key !== undefined && !digestsEqual(old.keyHash, digestApiKey(key)))) {
        throw new NotFoundError(`no api key with prefix ${prefix}`, 'API_KEY_NOT_FOUND')
      }
      if (old.revokedAt !== null || old.expired) {
        throw new ConflictError(
          `api key ${prefix} is ${old.revokedAt !== null ? 'revoked' : 'expired'}: revoke is final; create a new key`,
          'KEY_NOT_ROTATABLE',
        )
      }
      if (old.rotatedTo !== null) {
        throw new ConflictError(`api key ${prefix} was already rotated to ${old.rotatedTo}; rotate that key instead`, 'KEY_ALREADY_ROTATED')
      }
      const issued = await insertApiKey(tx, old.tenantId, { name: input.name ?? old.name, scope: old.scope, expiresAt: old.expiresAt })
      const [updated] =
        graceMs === 0
          ? await tx<ApiKeyInfo[]>`
              update public.api_keys set revoked_at = now(), rotated_to = ${issued.prefix} where prefix = ${prefix}
              returning ${tx.unsafe(KEY_COLUMNS)}`
          : // least() skips a null: a key without expiry gets now + grace.
            await tx<ApiKeyInfo[]>`
              update public.api_keys
              set expires_at = least(expires_at, now() + ${graceMs} * interval '1 millisecond'), rotated_to = ${issued.prefix}
              where prefix = ${prefix}
              returning ${tx.unsafe(KEY_COLUMNS)}`
      await notifyRevocation(tx, 'key', prefix)
      await recordAuditEvent(tx, actor, {
        action: 'key.rotate',
        tenantId: old.tenantId,
        schemaName: await schemaNameOf(tx, old.tenantId),
        keyPrefix: prefix,
        detail: {
          rotatedTo: issued.prefix,
          graceSeconds: graceMs / 1000,
          oldKeyEnds: updated!.revokedAt ?? updated!.expiresAt,
          scope: old.scope,
        },
      })
      return { old: updated!, issued }
    })
    onKeyChanged(prefix)
    return rotated
  }

  return { issueApiKey, listApiKeys, rotateApiKey, revokeApiKey }
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>
