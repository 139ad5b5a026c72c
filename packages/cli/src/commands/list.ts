import type { TenantSummary } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { formatTime } from '../output.js'

/** `tenantctl list`: every tenant with its active key count and migration version. */
export async function runList(ctx: CommandContext): Promise<TenantSummary[]> {
  const services = await ctx.services()
  const tenants = await services.tenants.listTenants()
  const { output } = ctx
  if (output.json) {
    output.writeJson(tenants)
    return tenants
  }
  if (tenants.length === 0) {
    output.line('No tenants yet. Create one with `tenantctl create`.')
    return tenants
  }
  output.table(
    ['NAME', 'SCHEMA', 'ACTIVE KEYS', 'VERSION', 'CREATED'],
    tenants.map((t) => [t.name, t.schemaName, String(t.activeKeys), String(t.migrationVersion), formatTime(t.createdAt)]),
  )
  output.line(output.style.dim(`${tenants.length} tenant${tenants.length === 1 ? '' : 's'}`))
  return tenants
}
