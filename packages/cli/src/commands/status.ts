import { latestVersion } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { CommandFailedError } from '../errors.js'

/** `tenantctl status`: every schema's version and pending migrations; fails if anything is pending (a CI gate). */
export async function runStatus(ctx: CommandContext) {
  const services = await ctx.services()
  const status = await services.migrationStatus()
  const { shared } = status
  const sharedPending = shared.pending
  const latest = latestVersion(services.migrations.tenant)
  const behind = status.tenants.filter((t) => t.pending.length > 0)
  const tenants = status.tenants.map(({ schemaName, version, suspended, pending }) => ({ schemaName, version, suspended, pending }))
  const result = {
    ok: status.upToDate,
    shared,
    latestTenantVersion: latest,
    tenantsBehind: behind.length,
    tenants,
  }
  const { output } = ctx
  const s = output.style
  if (output.json) {
    output.writeJson(result)
  } else {
    output.line(
      `shared schema (public): version ${shared.version} of ${shared.latest}` +
        (sharedPending.length > 0 ? `, ${s.yellow(`pending: ${sharedPending.join(', ')}`)}` : ''),
    )
    if (tenants.length > 0) {
      output.table(
        ['SCHEMA', 'VERSION', 'PENDING'],
        tenants.map((t) => [
          t.suspended ? `${t.schemaName} ${s.yellow('(suspended)')}` : t.schemaName,
          String(t.version),
          t.pending.length > 0 ? s.yellow(t.pending.join(', ')) : s.dim('-'),
        ]),
      )
    }
    output.line(
      result.ok
        ? s.green(`✔ ${tenants.length} tenant${tenants.length === 1 ? '' : 's'}, all at version ${latest}`)
        : s.yellow(
            [
              sharedPending.length > 0 ? 'the shared schema is behind' : '',
              behind.length > 0 ? `${behind.length} of ${tenants.length} tenants behind version ${latest}` : '',
            ]
              .filter(Boolean)
              .join('; '),
          ),
    )
  }
  if (!result.ok) {
    throw new CommandFailedError(
      `migrations are pending (${[
        sharedPending.length > 0 ? 'shared schema' : '',
        behind.length > 0 ? `${behind.length} tenant${behind.length === 1 ? '' : 's'}` : '',
      ]
        .filter(Boolean)
        .join(', ')}): run \`tenantctl migrate\``,
    )
  }
  return result
}
