import { AUDIT_ACTIONS, MAX_AUDIT_LIMIT, type AuditEvent } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { parseDuration } from '../durations.js'
import { UsageError } from '../errors.js'
import { formatTime } from '../output.js'

export interface AuditFlags {
  readonly schema?: string
  readonly since?: string
  readonly action?: string
  readonly limit?: string
}

/** The flags as core's filter; every problem is a usage error naming the accepted forms. */
export function parseAuditFlags(flags: AuditFlags, now = Date.now()) {
  if (flags.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(flags.action)) {
    throw new UsageError(`--action: "${flags.action}" is not an action; use one of ${AUDIT_ACTIONS.join(', ')}`)
  }
  let limit = 50
  if (flags.limit !== undefined) {
    limit = /^[0-9]{1,4}$/.test(flags.limit.trim()) ? Number(flags.limit.trim()) : NaN
    if (!(limit >= 1 && limit <= MAX_AUDIT_LIMIT))
      throw new UsageError(`--limit: "${flags.limit}" is not a whole number from 1 to ${MAX_AUDIT_LIMIT}`)
  }
  return {
    limit,
    ...(flags.schema !== undefined && { schemaName: flags.schema }),
    ...(flags.action !== undefined && { action: flags.action }),
    ...(flags.since !== undefined && { since: new Date(now - parseDuration('--since', flags.since)) }),
  }
}

/** A time as JSON stores it (`toISOString()`). */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

/** The DETAIL cell: the event's JSON detail as `key=value` pairs; a time to the minute, as every time printed. */
function formatDetail(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0))
    .map(([name, value]) => {
      if (typeof value !== 'string') return `${name}=${JSON.stringify(value)}`
      return `${name}=${ISO_TIME.test(value) ? formatTime(new Date(value)) : value}`
    })
    .join(' ')
}

/** `tenantctl audit`: the operator actions recorded, newest first. */
export async function runAudit(ctx: CommandContext, flags: AuditFlags): Promise<AuditEvent[]> {
  const filter = parseAuditFlags(flags)
  const services = await ctx.services()
  const events = await services.auditLog.listAuditEvents(filter)
  const { output } = ctx
  if (output.json) {
    output.writeJson(events)
    return events
  }
  if (events.length === 0) {
    output.line('No audit events match.')
    return events
  }
  output.table(
    ['WHEN (UTC)', 'ACTION', 'SCHEMA', 'KEY', 'ACTOR', 'DETAIL'],
    events.map((e) => [formatTime(e.occurredAt, true), e.action, e.schemaName ?? '-', e.keyPrefix ?? '-', e.actor, formatDetail(e.detail)]),
  )
  return events
}
