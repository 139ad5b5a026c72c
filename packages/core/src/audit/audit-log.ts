import { hostname, userInfo } from 'node:os'
import type { Sql, TransactionSql } from '../db/sql.js'
import { ValidationError } from '../errors.js'

/** Every operator action the audit log records. */
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
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** What an action writes: never a key, only its public prefix. */
export interface AuditEntry {
  readonly action: AuditAction
  readonly tenantId?: number | null
  readonly schemaName?: string | null
  readonly keyPrefix?: string | null
  /** A small JSON object (names, durations, outcomes), never a secret. */
  readonly detail?: Record<string, unknown>
}

/** A row of the audit log, as listed. */
export interface AuditEvent {
  readonly id: number
  readonly occurredAt: Date
  readonly action: AuditAction
  readonly tenantId: number | null
  readonly schemaName: string | null
  readonly keyPrefix: string | null
  readonly actor: string
  readonly detail: Record<string, unknown>
}

export interface ListAuditEventsInput {
  readonly schemaName?: string
  /** Only events at or after this moment. */
  readonly since?: Date
  readonly action?: string
  /** 1 to {@link MAX_AUDIT_LIMIT}; default 50. */
  readonly limit?: number
}

export const MAX_AUDIT_LIMIT = 1000
const MAX_ACTOR_LENGTH = 200

/** The actor when none is named: the OS user and host, as `ann@build-7`. */
export function defaultActor(): string {
  let user = 'unknown'
  try {
    user = userInfo().username || user
  } catch {
    // NOTE: userInfo() throws for a uid without a passwd entry (some containers).
    user = process.env.USER ?? process.env.LOGNAME ?? user
  }
  return `${user}@${hostname()}`
}

/** The actor trimmed, or a {@link ValidationError}: 1 to 200 printable characters. */
export function assertValidActor(actor: string): string {
  const trimmed = typeof actor === 'string' ? actor.trim() : ''
  if (trimmed.length === 0 || trimmed.length > MAX_ACTOR_LENGTH || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new ValidationError(`the actor must be 1 to ${MAX_ACTOR_LENGTH} printable characters`, 'INVALID_ACTOR')
  }
  return trimmed
}

/**
 * Writes one audit row with `sql`: pass the action's own transaction, so the row exists
 * exactly when the action committed.
 */
export async function recordAuditEvent(sql: Sql | TransactionSql, actor: string, entry: AuditEntry): Promise<void> {
  await sql`
    insert into public.audit_events (action, tenant_id, schema_name, key_prefix, actor, detail)
    values (${entry.action}, ${entry.tenantId ?? null}, ${entry.schemaName ?? null}, ${entry.keyPrefix ?? null}, ${actor},
      ${sql.json(entry.detail ?? {})})`
}

function validateListInput(input: ListAuditEventsInput): { limit: number } {
  const problems: string[] = []
  const limit = input.limit ?? 50
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT)
    problems.push(`limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`)
  if (input.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(input.action)) {
    problems.push(`action must be one of ${AUDIT_ACTIONS.join(', ')}`)
  }
  if (input.since !== undefined && (!(input.since instanceof Date) || Number.isNaN(input.since.getTime())))
    problems.push('since must be a valid date')
  if (problems.length > 0) throw new ValidationError(problems.join('; '), 'INVALID_AUDIT_FILTER', problems)
  return { limit }
}

/** Reading the audit log. Writing happens inside each action (see {@link recordAuditEvent}). */
export function createAuditLog({ sql }: { sql: Sql }) {
  /** Events matching every filter given, newest first. */
  async function listAuditEvents(input: ListAuditEventsInput = {}): Promise<AuditEvent[]> {
    const { limit } = validateListInput(input)
    return sql<AuditEvent[]>`
      select id, occurred_at, action, tenant_id, schema_name, key_prefix, actor, detail
      from public.audit_events
      where true
        ${input.schemaName !== undefined ? sql`and schema_name = ${input.schemaName}` : sql``}
        ${input.since !== undefined ? sql`and occurred_at >= ${input.since}` : sql``}
        ${input.action !== undefined ? sql`and action = ${input.action}` : sql``}
      order by occurred_at desc, id desc
      limit ${limit}`
  }
  return { listAuditEvents }
}

export type AuditLog = ReturnType<typeof createAuditLog>
