import type { Sql, TransactionSql } from '../db/sql.js'
import { notifyRevocation } from '../revocations/revocation-channel.js'

/**
 * Seconds an ended login is remembered beyond the access token lifetime: a token signed
 * just after the refresh that raced the revocation expires a moment later than
 * `revoked_at + ACCESS_TOKEN_TTL_SECONDS`.
 */
const EXPIRY_MARGIN_SECONDS = 60

/** Expired rows deleted at most by each revocation (skipping rows another one holds). */
const PRUNE_BATCH = 100

/**
 * Records, inside the caller's transaction, that the login `familyId` ended: a row kept
 * until its access tokens have expired, and a NOTIFY delivered at commit. Returns when the
 * login's access tokens expire at the latest (ms since the epoch).
 */
export async function recordRevokedSession(
  tx: TransactionSql,
  tenantId: number,
  familyId: string,
  accessTokenTtlSeconds: number,
): Promise<number> {
  const [row] = await tx<{ expiresAt: Date }[]>`
    insert into public.revoked_sessions (family_id, tenant_id, expires_at)
    values (${familyId}, ${tenantId}, now() + make_interval(secs => ${accessTokenTtlSeconds + EXPIRY_MARGIN_SECONDS}))
    on conflict (family_id) do update set expires_at = excluded.expires_at
    returning expires_at`
  const expiresAtMs = row!.expiresAt.getTime()
  await notifyRevocation(tx, 'session', `${familyId}:${expiresAtMs}`)
  // NOTE: each revocation clears a few expired rows, so the table holds about one access
  // token lifetime of ended logins without a job of its own; SKIP LOCKED keeps two
  // concurrent revocations from waiting on each other here.
  await tx`
    delete from public.revoked_sessions where family_id in (
      select family_id from public.revoked_sessions where expires_at < now()
      limit ${PRUNE_BATCH} for update skip locked)`
  return expiresAtMs
}

/**
 * This process's set of ended logins whose access tokens may still be alive. Looked up on
 * every Bearer request (one Map lookup); filled by this process's own revocations, by NOTIFY
 * from the others, and by {@link reload} from the database at start, after a reconnect and
 * while the channel is not heard.
 */
export function createRevokedSessionStore({ sql }: { sql: Sql }) {
  /** family id -> ms since the epoch until which its access tokens may live. */
  const revoked = new Map<string, number>()
  let addedSincePrune = 0

  function prune(now = Date.now()): void {
    for (const [familyId, until] of revoked) if (until <= now) revoked.delete(familyId)
    addedSincePrune = 0
  }

  /** Remembers an ended login until `untilMs`. */
  function remember(familyId: string, untilMs: number): void {
    if (untilMs <= Date.now()) return
    revoked.set(familyId, Math.max(untilMs, revoked.get(familyId) ?? 0))
    if (++addedSincePrune >= 1024) prune()
  }

  /** Whether the login `familyId` has ended (its access tokens must be refused). */
  function isRevoked(familyId: string): boolean {
    return revoked.size !== 0 && revoked.has(familyId)
  }

  /** Adds every ended login whose access tokens may still be alive, as the database records them. */
  async function reload(): Promise<void> {
    const rows = await sql<{ familyId: string; expiresAt: Date }[]>`
      select family_id, expires_at from public.revoked_sessions where expires_at > now()`
    for (const row of rows) remember(row.familyId, row.expiresAt.getTime())
    prune()
  }

  /** A NOTIFY payload `<family id>:<until ms>`; malformed ones are ignored. */
  function rememberFromMessage(payload: string): void {
    const separator = payload.lastIndexOf(':')
    const untilMs = Number(payload.slice(separator + 1))
    if (separator > 0 && Number.isFinite(untilMs)) remember(payload.slice(0, separator), untilMs)
  }

  return { isRevoked, remember, rememberFromMessage, reload, size: () => revoked.size }
}

export type RevokedSessionStore = ReturnType<typeof createRevokedSessionStore>
