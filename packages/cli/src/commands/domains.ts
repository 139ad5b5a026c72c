import type { TenantDomain } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { formatTime } from '../output.js'

function domainRow(domain: TenantDomain): string[] {
  return [domain.host, domain.schemaName, domain.isPrimary ? 'primary' : '', formatTime(domain.createdAt)]
}

/**
 * `tenantctl domains add <schema> <host>`: the tenant is reached at that host name (with
 * TENANT_RESOLUTION=api-key,host). Normalised (lower case, punycode, no port, no trailing
 * dot); the first is the primary, `--primary` makes it so. Adding it again changes nothing.
 */
export async function runDomainsAdd(ctx: CommandContext, schema: string, host: string, flags: { primary?: boolean }) {
  const services = await ctx.services()
  const change = await services.domains.addDomain(schema, host, { primary: flags.primary ?? false })
  const { output } = ctx
  const { domain } = change
  if (output.json) output.writeJson(change)
  else if (!change.changed)
    output.line(`${domain.host} is already a domain of ${domain.schemaName}${domain.isPrimary ? ' (primary)' : ''}: nothing changed.`)
  else
    output.line(
      `${output.style.green('✔')} ${domain.host} now serves ${domain.schemaName}${domain.isPrimary ? ', as its primary domain' : ''}.`,
    )
  return change
}

/** `tenantctl domains remove <host>`: every API process answers that host 404 within a second. */
export async function runDomainsRemove(ctx: CommandContext, host: string) {
  const services = await ctx.services()
  const removed = await services.domains.removeDomain(host)
  const { output } = ctx
  if (output.json) output.writeJson(removed)
  else output.line(`${output.style.green('✔')} Removed ${removed.host} from ${removed.schemaName}: it serves no tenant any more.`)
  return removed
}

/** `tenantctl domains list [schema]`: every tenant's domains, or one tenant's; the primary first. */
export async function runDomainsList(ctx: CommandContext, schema: string | undefined) {
  const services = await ctx.services()
  const domains = await services.domains.listDomains(schema)
  const { output } = ctx
  if (output.json) {
    output.writeJson(domains)
    return domains
  }
  if (domains.length === 0) {
    output.line(`${schema ?? 'No tenant'} has no domains. Add one with \`tenantctl domains add ${schema ?? '<schema>'} <host>\`.`)
    return domains
  }
  output.table(['HOST', 'SCHEMA', 'PRIMARY', 'ADDED'], domains.map(domainRow))
  return domains
}

/**
 * `tenantctl registration <schema> open|closed`: whether a caller found by the tenant's host
 * name alone (no api key) may register a user. Closed by default. Idempotent.
 */
export async function runRegistration(ctx: CommandContext, schema: string, open: boolean) {
  const services = await ctx.services()
  const change = await services.domains.setOpenRegistration(schema, open)
  const { output } = ctx
  const state = open ? 'open' : 'closed'
  if (output.json) output.writeJson(change)
  else if (!change.changed) output.line(`Registration at ${schema}'s host names is already ${state}: nothing changed.`)
  else
    output.line(
      `${output.style.green('✔')} Registration at ${schema}'s host names is now ${state}` +
        (open ? ': anyone reaching them may register a user without an api key.' : ': registering needs an api key of the tenant.'),
    )
  return change
}
