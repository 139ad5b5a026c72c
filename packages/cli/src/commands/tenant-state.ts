import type { Tenant } from '@tenantbase/core'
import { formatTime, type Styles } from '../output.js'

/** `active`, or `suspended since ... (reason)`, as list and show print it. */
export function tenantState(tenant: Tenant, s?: Styles): string {
  if (tenant.suspendedAt === null) return s ? s.green('active') : 'active'
  const text = `suspended since ${formatTime(tenant.suspendedAt)}${tenant.suspensionReason ? ` (${tenant.suspensionReason})` : ''}`
  return s ? s.yellow(text) : text
}
