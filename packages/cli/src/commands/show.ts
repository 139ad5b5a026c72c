import { formatNode, formatState, migrationState } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { formatTime } from '../output.js'
import { tenantState } from './tenant-state.js'
import { KEY_TABLE_HEAD, keyTableRow } from '../key-table.js'

/** `tenantctl show <schema>`: one tenant, its domains, its keys (prefixes only) and its migration state. */
export async function runShow(ctx: CommandContext, schema: string) {
  const services = await ctx.services()
  const tenant = await services.tenants.getTenant(schema)
  const [keys, placements, domains, openRegistration] = await Promise.all([
    services.apiKeys.listApiKeys(tenant),
    services.citus.tenantPlacements(),
    services.domains.listDomains(tenant.schemaName),
    services.domains.isRegistrationOpen(tenant.schemaName),
  ])
  const placement = placements?.get(tenant.schemaName)
  const { latest, pending } = migrationState(services.migrations.tenant, tenant.migrations)
  const result = {
    tenant,
    keys,
    domains: domains.map((domain) => ({ host: domain.host, isPrimary: domain.isPrimary })),
    openRegistration,
    migrations: { state: tenant.migrations, latest, pending },
    // Only on Citus: the worker holding the schema, or null when it is not distributed.
    ...(placements && { node: placement ? formatNode(placement) : null }),
  }
  const { output } = ctx
  if (output.json) {
    output.writeJson(result)
    return result
  }
  const s = output.style
  output.line(`${s.bold(tenant.name)}  ${s.dim(`id ${tenant.id}`)}`)
  output.line(`  schema     ${tenant.schemaName}`)
  output.line(`  address    ${tenant.address || s.dim('(none)')}`)
  output.line(`  created    ${formatTime(tenant.createdAt)}`)
  output.line(`  state      ${tenantState(tenant, s)}`)
  if (placements) output.line(`  node       ${result.node ?? s.yellow('not distributed (see tenantctl doctor)')}`)
  if (domains.length > 0) {
    output.line(`  domains    ${domains.map((domain) => (domain.isPrimary ? `${domain.host} (primary)` : domain.host)).join(', ')}`)
  }
  output.line(`  sign-up    ${openRegistration ? 'open at its host names, without a key' : 'with an api key only'}`)
  output.line(
    `  migrations ${formatState(tenant.migrations)} (latest ${formatState(latest)})` +
      (pending.length > 0 ? `, ${s.yellow(`pending: ${pending.join(', ')}`)}` : `, ${s.green('up to date')}`),
  )
  output.line()
  if (keys.length === 0) {
    output.line('No api keys.')
    return result
  }
  output.table(
    KEY_TABLE_HEAD,
    keys.map((key) => keyTableRow(key)),
  )
  return result
}
