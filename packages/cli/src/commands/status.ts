import { formatState, latestState, type TenantMigrationState } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { CommandFailedError } from '../errors.js'

/** What is wrong with a tenant beyond pending migrations, for people. */
const PROBLEMS: Record<NonNullable<TenantMigrationState['problem']>, (schema: string) => string> = {
  'schema-missing': (schema) => `schema missing: restore it, or \`tenantctl delete ${schema} --force\``,
  'ledger-missing': () => 'schema_migrations missing: see `tenantctl doctor`',
  ahead: () => 'has migrations no file here has: see `tenantctl doctor`',
}

/**
 * `tenantctl status`: every schema's state and pending migrations, with each registered
 * schema checked to exist and hold its ledger; fails if anything is pending or wrong (a CI gate).
 */
export async function runStatus(ctx: CommandContext) {
  const services = await ctx.services()
  const status = await services.migrationStatus()
  const { shared } = status
  const sharedPending = shared.pending
  const latest = latestState(services.migrations.tenant)
  const behind = status.tenants.filter((t) => t.pending.length > 0)
  const broken = status.tenants.filter((t) => t.problem !== undefined)
  const tenants = status.tenants.map(({ schemaName, state, suspended, pending, problem }) => ({
    schemaName,
    state,
    suspended,
    pending,
    ...(problem && { problem }),
  }))
  const result = {
    ok: status.upToDate,
    modules: services.migrations.modules,
    shared,
    latestTenantState: latest,
    tenantsBehind: behind.length,
    tenantsBroken: broken.length,
    tenants,
  }
  const { output } = ctx
  const s = output.style
  if (output.json) {
    output.writeJson(result)
  } else {
    output.line(`modules: ${result.modules.join(', ')}`)
    output.line(
      `shared schema (public): ${formatState(shared.state)} of ${formatState(shared.latest)}` +
        (sharedPending.length > 0 ? `, ${s.yellow(`pending: ${sharedPending.join(', ')}`)}` : ''),
    )
    if (tenants.length > 0) {
      output.table(
        ['SCHEMA', 'MIGRATIONS', 'PENDING'],
        tenants.map((t) => [
          t.suspended ? `${t.schemaName} ${s.yellow('(suspended)')}` : t.schemaName,
          formatState(t.state),
          t.problem
            ? s.red(PROBLEMS[t.problem](t.schemaName))
            : t.pending.length > 0
              ? s.yellow(t.pending.join(', '))
              : s.dim('-'),
        ]),
      )
    }
    output.line(
      result.ok
        ? s.green(`✔ ${tenants.length} tenant${tenants.length === 1 ? '' : 's'}, all at ${formatState(latest)}`)
        : s.yellow(
            [
              sharedPending.length > 0 ? 'the shared schema is behind' : '',
              behind.length > 0 ? `${behind.length} of ${tenants.length} tenants behind ${formatState(latest)}` : '',
              broken.length > 0 ? `${broken.length} of ${tenants.length} tenants broken (${broken.map((t) => t.schemaName).join(', ')})` : '',
            ]
              .filter(Boolean)
              .join('; '),
          ),
    )
  }
  if (!result.ok) {
    const pending = [sharedPending.length > 0 ? 'shared schema' : '', behind.length > 0 ? `${behind.length} tenant${behind.length === 1 ? '' : 's'}` : '']
      .filter(Boolean)
      .join(', ')
    throw new CommandFailedError(
      [
        pending ? `migrations are pending (${pending}): run \`tenantctl migrate\`` : '',
        broken.length > 0 ? `${broken.length} tenant schema${broken.length === 1 ? ' is' : 's are'} broken: ${broken.map((t) => t.schemaName).join(', ')} (see \`tenantctl doctor\`)` : '',
      ]
        .filter(Boolean)
        .join('; '),
    )
  }
  return result
}
