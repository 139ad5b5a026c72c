import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { SchemaIdentifier, Sql, TransactionSql } from '../db/sql.js'
import type { InTenant, TenantRef } from '../db/tenant-scope.js'
import { AuthenticationError, ValidationError } from '../errors.js'
import { recordRevokedSession, type RevokedSessionStore } from './revoked-sessions.js'

/** A refresh token as handed to a client: `token` is shown once and only its digest is stored. */
export interface IssuedRefreshToken {
  readonly token: string
  readonly userId: number
  readonly familyId: string
  readonly expiresAt: Date
}

export interface RefreshTokenServiceOptions {
  readonly inTenant: InTenant
  /** Lifetime of each token of a family, in seconds (default 30 days). */
  readonly ttlSeconds?: number
  /** The access token lifetime (default 900 s): an ended login is remembered that long. */
  readonly accessTokenTtlSeconds?: number
  /** This process's set of ended logins, told at once of each one ended here. */
  readonly revokedSessions?: RevokedSessionStore
}

/** `rt_` and 256 bits from the CSPRNG, base64url. */
const TOKEN_SHAPE = /^rt_[A-Za-z0-9_-]{43}$/

function generateRefreshToken(): string {
  return `rt_${randomBytes(32).toString('base64url')}`
}

/** SHA-256 of the token: a fast hash is right, the token is random, not a password. */
export function digestRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

/** A login ended by a transaction: remembered locally once it commits. */
interface EndedSession {
  readonly familyId: string
  readonly untilMs: number
}

function rejected(): AuthenticationError {
  return new AuthenticationError('invalid or expired refresh token', 'INVALID_REFRESH_TOKEN')
}

/**
 * Refresh tokens of one tenant's users. A family is one login's chain of rotations:
 * each refresh rotates the token (the old one stops working), and presenting an already
 * rotated token, the sign of a stolen token replayed, revokes the whole family.
 */
export function createRefreshTokenService({
  inTenant,
  ttlSeconds = 2_592_000,
  accessTokenTtlSeconds = 900,
  revokedSessions,
}: RefreshTokenServiceOptions) {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new ValidationError('refresh token lifetime must be a positive number of seconds', 'INVALID_TOKEN_TTL')
  }

  async function insertToken(
    tx: Sql | TransactionSql,
    schema: SchemaIdentifier,
    userId: number,
    familyId: string,
  ): Promise<IssuedRefreshToken> {
    const token = generateRefreshToken()
    const [row] = await tx<{ expiresAt: Date }[]>`
      insert into ${schema}.refresh_tokens (user_id, family_id, token_hash, expires_at)
      values (${userId}, ${familyId}, ${digestRefreshToken(token)}, now() + make_interval(secs => ${ttlSeconds}))
      returning expires_at`
    return { token, userId, familyId, expiresAt: row!.expiresAt }
  }

  /** Starts a new family for `userId` (one login) and returns its first token. */
  async function issueRefreshToken(tenant: TenantRef, userId: number): Promise<IssuedRefreshToken> {
    return inTenant(tenant, ({ sql, schema }) => insertToken(sql, schema, userId, randomUUID()))
  }

  /**
   * Exchanges a live token for the next one of its family. An unknown, expired or revoked
   * token is an {@link AuthenticationError}; a token that was already rotated also revokes
   * every token of its family, so neither the thief nor the victim can go on with it.
   */
  async function rotateRefreshToken(tenant: TenantRef, token: unknown): Promise<IssuedRefreshToken> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) throw rejected()
    const digest = digestRefreshToken(token)
    const outcome = await inTenant(tenant, ({ sql, schema }) =>
      sql.begin(async (tx) => {
        const [current] = await tx<{ userId: number; familyId: string }[]>`
        update ${schema}.refresh_tokens set rotated_at = now()
        where token_hash = ${digest} and rotated_at is null and revoked_at is null and expires_at > now()
        returning user_id, family_id`
        if (current) return { issued: await insertToken(tx, schema, current.userId, current.familyId) }
        const [reused] = await tx<{ familyId: string }[]>`
        select family_id from ${schema}.refresh_tokens where token_hash = ${digest} and rotated_at is not null`
        if (!reused) return {}
        const revoked = await tx`
        update ${schema}.refresh_tokens set revoked_at = now()
        where family_id = ${reused.familyId} and revoked_at is null`
        return revoked.count > 0 ? { ended: await endSession(tx, tenant, reused.familyId) } : {}
      }),
    )
    if (outcome.ended) rememberEnded(outcome.ended)
    if (!outcome.issued) throw rejected()
    return outcome.issued
  }

  /** Inside `tx`: the login `familyId` ends, so its access tokens stop working in every process. */
  async function endSession(tx: TransactionSql, tenant: TenantRef, familyId: string): Promise<EndedSession> {
    return { familyId, untilMs: await recordRevokedSession(tx, tenant.id, familyId, accessTokenTtlSeconds) }
  }

  /** After the commit: this process refuses the login's access tokens at once, before its NOTIFY arrives. */
  function rememberEnded({ familyId, untilMs }: EndedSession): void {
    revokedSessions?.remember(familyId, untilMs)
  }

  /**
   * Logs out: revokes the token's whole family (the session it belongs to), and with it the
   * family's access tokens in every process. Only a live token can log out; anything else is
   * an {@link AuthenticationError}.
   */
  async function revokeRefreshToken(tenant: TenantRef, token: unknown): Promise<void> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) throw rejected()
    const loggedOut = await inTenant(tenant, ({ sql, schema }) =>
      sql.begin(async (tx) => {
        const [family] = await tx<{ familyId: string }[]>`
        update ${schema}.refresh_tokens set revoked_at = now()
        where revoked_at is null and family_id = (
          select family_id from ${schema}.refresh_tokens
          where token_hash = ${digestRefreshToken(token)} and rotated_at is null and revoked_at is null and expires_at > now()
        )
        returning family_id`
        return family && endSession(tx, tenant, family.familyId)
      }),
    )
    if (!loggedOut) throw rejected()
    rememberEnded(loggedOut)
  }

  return { issueRefreshToken, rotateRefreshToken, revokeRefreshToken }
}

export type RefreshTokenService = ReturnType<typeof createRefreshTokenService>
