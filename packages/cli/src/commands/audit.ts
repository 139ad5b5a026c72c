import type { AuditEvent } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { DEFAULT_AUDIT_LIMIT } from '../option-parsers.js'
import { formatTime } from '../output.js'

/** The flags as their options parsed them. */
export interface AuditFlags {
  readonly schema?: string
  /** Milliseconds back from now. */
  readonly since?: number
  readonly action?: AuditEvent['action']
  readonly limit?: number
}

/** The flags as core's filter. */
export function auditFilter(flags: AuditFlags, now = Date.now()) {
  return {
    limit: flags.limit ?? DEFAULT_AUDIT_LIMIT,
    ...(flags.schema !== undefined && { schemaName: flags.schema }),
    ...(flags.action !== undefined && { action: flags.action }),
    ...(flags.since !== undefined && { since: new Date(now - flags.since) }),
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
  const filter = auditFilter(flags)
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
