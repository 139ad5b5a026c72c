import { formatNode, formatState, type TenantSummary } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { formatTime } from '../output.js'

/** `tenantctl list`: every tenant with its state, active key count and migration version. */
export async function runList(ctx: CommandContext): Promise<(TenantSummary & { node?: string | null })[]> {
  const services = await ctx.services()
  const [summaries, placements] = await Promise.all([services.tenants.listTenants(), services.citus.tenantPlacements()])
  // On Citus each tenant also names the worker holding its schema (null: not distributed).
  const tenants = placements
    ? summaries.map((tenant) => {
        const node = placements.get(tenant.schemaName)
        return { ...tenant, node: node ? formatNode(node) : null }
      })
    : summaries
  const { output } = ctx
  if (output.json) {
    output.writeJson(tenants)
    return tenants
  }
  if (tenants.length === 0) {
    output.line('No tenants yet. Create one with `tenantctl create`.')
    return tenants
  }
  const nodeColumn = placements ? ['NODE'] : []
  output.table(
    ['NAME', 'SCHEMA', 'STATE', 'ACTIVE KEYS', 'MIGRATIONS', 'CREATED', ...nodeColumn],
    tenants.map((t) => [
      t.name,
      t.schemaName,
      t.suspendedAt === null ? 'active' : output.style.yellow('suspended'),
      String(t.activeKeys),
      formatState(t.migrations),
      formatTime(t.createdAt),
      ...((placements ? [('node' in t && t.node) || 'not distributed'] : []) as string[]),
    ]),
  )
  output.line(output.style.dim(`${tenants.length} tenant${tenants.length === 1 ? '' : 's'}`))
  return tenants
}
