import type { ApiKeyScope, AuditEvent } from '@tenantbase/core'
import { parseDuration } from './durations.js'
import { UsageError } from './errors.js'

// Each option's own parser: commander calls it as it reads the flag, so a bad value is a
// usage error (exit 2) before a command module, core or the database is loaded, and the
// command receives the parsed value with its type. No runtime import of core here: it
// would make `--help` wait for the database driver. The few of core's lists a parser needs
// are repeated below, typed against core's own types; a unit test holds them equal to core's.

/** `tenantctl migrate`'s tenants in flight when `--concurrency` is not given. */
export const DEFAULT_CONCURRENCY = 4
const MAX_CONCURRENCY = 64

/** `--concurrency <n>`: a whole number from 1 to 64. */
export function parseConcurrency(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, not "${value}"`)
  }
  return n
}

/** A duration flag's parser (`--expires-in`, `--since`, `--grace`): milliseconds, see {@link parseDuration}. */
export function durationOf(flag: string, options: { allowZero?: boolean } = {}): (value: string) => number {
  return (value) => parseDuration(flag, value, options)
}

/** `keys rotate`'s `--grace` when not given: a day, for every client to pick up the new key. */
export const DEFAULT_GRACE = '24h'

/** Core's API_KEY_SCOPES. */
export const API_KEY_SCOPES = ['read', 'write'] as const satisfies readonly ApiKeyScope[]

/** `--scope`: read or write. */
export function parseScope(value: string): ApiKeyScope {
  const scope = API_KEY_SCOPES.find((known) => known === value)
  if (scope === undefined) {
    throw new UsageError(
      `--scope: "${value}" is not a scope; use ${API_KEY_SCOPES.join(' or ')} (read: GET routes only; write: everything)`,
    )
  }
  return scope
}

type AuditAction = AuditEvent['action']

/** Core's AUDIT_ACTIONS. */
export const AUDIT_ACTIONS = [
  'tenant.create',
  'tenant.suspend',
  'tenant.resume',
  'tenant.delete',
  'tenant.export',
  'tenant.import',
  'tenant.restore',
  'key.create',
  'key.rotate',
  'key.revoke',
  'domain.add',
  'domain.remove',
  'tenant.registration',
  'migrate',
] as const satisfies readonly AuditAction[]

/** Core's MAX_AUDIT_LIMIT. */
export const MAX_AUDIT_LIMIT = 1000

/** `audit`'s event count when `--limit` is not given. */
export const DEFAULT_AUDIT_LIMIT = 50

/** `--action`: one of the actions the audit log records. */
export function parseAuditAction(value: string): AuditAction {
  const action = AUDIT_ACTIONS.find((known) => known === value)
  if (action === undefined) throw new UsageError(`--action: "${value}" is not an action; use one of ${AUDIT_ACTIONS.join(', ')}`)
  return action
}

/** `--limit <n>`: a whole number from 1 to {@link MAX_AUDIT_LIMIT}. */
export function parseAuditLimit(value: string): number {
  const limit = /^[0-9]{1,4}$/.test(value.trim()) ? Number(value.trim()) : NaN
  if (!(limit >= 1 && limit <= MAX_AUDIT_LIMIT))
    throw new UsageError(`--limit: "${value}" is not a whole number from 1 to ${MAX_AUDIT_LIMIT}`)
  return limit
}

/** `open` or `closed`, for `tenantctl registration`. */
export function parseRegistrationState(value: string): boolean {
  if (value === 'open') return true
  if (value === 'closed') return false
  throw new UsageError(`"${value}" is not a registration state; use open or closed`)
}
