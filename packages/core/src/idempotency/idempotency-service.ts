import { createHash } from 'node:crypto'
import { isConnectionError } from '../db/pg-errors.js'
import type { InTenantTransaction, TenantRef } from '../db/tenant-scope.js'
import { ConflictError, DatabaseUnavailableError, ValidationError, WriteOutcomeUnknownError } from '../errors.js'

/** Seconds a stored answer is replayed, unless configured (IDEMPOTENCY_KEY_TTL_SECONDS). */
export const DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS = 86_400
/** Milliseconds a repeat waits for the first request with its key, unless configured (IDEMPOTENCY_WAIT_MS). */
export const DEFAULT_IDEMPOTENCY_WAIT_MS = 10_000
/** Expired keys one keyed request deletes, at most, from its tenant's table. */
export const EXPIRED_KEYS_PER_WRITE = 100

/** 1 to 255 printable ASCII characters (space included), as sent. */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/

/** A request sent with an idempotency key, as the store knows it. */
export interface IdempotentRequest {
  /**
   * Who sent it: keys of different scopes never meet. The api uses `user:<id>` for a user's
   * request, `key:<prefix>` for an api key's without a user, `host:<name>` for a host name's.
   */
  readonly scope: string
  readonly key: string
  /** What it asks for (see {@link requestFingerprint}): the same key with another one is refused. */
  readonly fingerprint: string
}

/** An answer as stored and replayed. */
export interface StoredAnswer {
  readonly status: number
  /** The headers that belong to the answer (content type, location...), names lower-case. */
  readonly headers: Readonly<Record<string, string>>
  /** The body exactly as sent; null for none. */
  readonly body: string | null
}

export type IdempotentOutcome =
  /** The key had an answer: `answer` is it, and nothing ran. */
  | { readonly replayed: true; readonly answer: StoredAnswer }
  /** The work ran; its answer was stored and committed with its writes, or (null) rolled back with them. */
  | { readonly replayed: false; readonly answer: StoredAnswer | null }

/** An idempotency key as received, or a ValidationError (IDEMPOTENCY_KEY_INVALID). */
export function assertValidIdempotencyKey(key: string): string {
  if (!KEY_PATTERN.test(key)) {
    throw new ValidationError(
      'the Idempotency-Key header must be 1 to 255 printable ASCII characters (a random UUID will do)',
      'IDEMPOTENCY_KEY_INVALID',
    )
  }
  return key
}

/** What a request asks for, as one digest: each part in order, each length-prefixed so no two lists meet. */
export function requestFingerprint(parts: readonly string[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(`${Buffer.byteLength(part)}:${part}\n`)
  return hash.digest('base64url')
}

/** Thrown inside the transaction to roll it back when the work's answer is not to be stored. */
class NotStored extends Error {}

/**
 * Exactly-once writes for clients that retry: the first request with a key runs in one
 * transaction that also claims the key and stores the answer, so the answer exists if and
 * only if the writes do.
 *
 * NOTE: the claim is an `INSERT ... ON CONFLICT` on the key's primary key: a repeat sent while
 * the first still runs waits on that uncommitted entry until the first commits (it then
 * replays its answer) or rolls back (it then runs), never writing twice; `lock_timeout`
 * turns a wait longer than `waitMs` into IDEMPOTENCY_KEY_IN_USE. A keyed request holds its
 * tenant's connection for as long as its work runs.
 */
export function createIdempotencyService({
  inTenantTransaction,
  ttlSeconds = DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS,
  waitMs = DEFAULT_IDEMPOTENCY_WAIT_MS,
}: {
  readonly inTenantTransaction: InTenantTransaction
  readonly ttlSeconds?: number | undefined
  readonly waitMs?: number | undefined
}) {
  /**
   * Runs `work` once per key of `request`'s scope: in one transaction on the tenant's
   * connection, in which every `inTenant` call of the same tenant runs too; its answer is
   * stored before COMMIT, or, when it answers null or throws, everything is rolled back and
   * nothing is stored (a retry runs again). A repeat with the same fingerprint gets the
   * stored answer; with another, IDEMPOTENCY_KEY_REUSED. Every keyed request also deletes up
   * to {@link EXPIRED_KEYS_PER_WRITE} of its tenant's expired keys, so cleaning up costs in
   * proportion to the writes, whatever the number of tenants.
   *
   * A lost connection before COMMIT was sent is a DatabaseUnavailableError (nothing
   * happened); while it was on its way, a {@link WriteOutcomeUnknownError}.
   */
  async function runOnce(
    tenant: TenantRef,
    request: IdempotentRequest,
    work: () => Promise<StoredAnswer | null>,
  ): Promise<IdempotentOutcome> {
    const { scope, key, fingerprint } = request
    assertValidIdempotencyKey(key)
    let committing = false
    try {
      return await inTenantTransaction(tenant, async ({ sql, schema }): Promise<IdempotentOutcome> => {
        // One statement: claim the key (or take over its expired row), with the wait for a
        // running twin bounded, and delete some of the tenant's expired keys, none of them
        // this one (a row the statement's ON CONFLICT may update).
        // NOTE: the takeover compares with the new row's created_at (now()), not now() itself:
        // Citus refuses a function in an ON CONFLICT's WHERE unless it is immutable.
        // NOTE: set_config runs for the row before its insertion, so the bound holds for the
        // claim's wait; RETURNING, reached only by a claimed row, lifts it for the work (0,
        // PostgreSQL's default): a lock the work waits for is not the key's. A repeat, which
        // runs no work, keeps it.
        const claimed = await sql`
          with expired as (
            delete from ${schema}.idempotency_keys where (scope, key) in (
              select scope, key from ${schema}.idempotency_keys
              where expires_at <= now() and not (scope = ${scope} and key = ${key})
              order by expires_at limit ${EXPIRED_KEYS_PER_WRITE} for update skip locked)
          )
          insert into ${schema}.idempotency_keys (scope, key, fingerprint, expires_at)
          select ${scope}, ${key}, ${fingerprint}, now() + make_interval(secs => ${ttlSeconds})
          from (select set_config('lock_timeout', ${`${waitMs}ms`}, true)) as bounded
          on conflict (scope, key) do update
            set fingerprint = excluded.fingerprint, status = null, headers = null, body = null,
              created_at = excluded.created_at, expires_at = excluded.expires_at
            where idempotency_keys.expires_at <= excluded.created_at
          returning set_config('lock_timeout', '0', true) as claimed`.catch((error: unknown) => {
          throw (error as { code?: string })?.code === '55P03' ? keyInUse(key) : error
        })
        if (claimed.length === 0) {
          const [stored] = await sql<
            { fingerprint: string; status: number | null; headers: Record<string, string>; body: string | null }[]
          >`
            select fingerprint, status, headers, body from ${schema}.idempotency_keys where scope = ${scope} and key = ${key}`
          if (stored?.status === null || stored?.status === undefined) throw keyInUse(key)
          if (stored.fingerprint !== fingerprint) {
            throw new ConflictError(
              `the Idempotency-Key "${key}" was used for another request (method, path or body): use a new key for a new request`,
              'IDEMPOTENCY_KEY_REUSED',
            )
          }
          return { replayed: true, answer: { status: stored.status, headers: stored.headers, body: stored.body } }
        }
        const answer = await work()
        if (answer === null) throw new NotStored()
        await sql`
          update ${schema}.idempotency_keys
          set status = ${answer.status}, headers = ${sql.json(answer.headers)}, body = ${answer.body}
          where scope = ${scope} and key = ${key}`
        committing = true
        return { replayed: false, answer }
      })
    } catch (error) {
      if (error instanceof NotStored) return { replayed: false, answer: null }
      // After the work: COMMIT was on its way (or the connection closed as it was sent).
      if (committing && (isConnectionError(error) || error instanceof DatabaseUnavailableError || !(error as { code?: string })?.code)) {
        throw new WriteOutcomeUnknownError(`the connection was lost while the write was being committed: ${(error as Error).message}`, {
          cause: error,
        })
      }
      throw error
    }
  }

  return { runOnce }
}

function keyInUse(key: string): ConflictError {
  return new ConflictError(
    `a request with the Idempotency-Key "${key}" is still running: retry once it has answered`,
    'IDEMPOTENCY_KEY_IN_USE',
  )
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>
