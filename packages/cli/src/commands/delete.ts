import type { CommandContext } from '../context.js'
import { CancelledError, CommandFailedError, UsageError } from '../errors.js'

/**
 * `tenantctl delete <schema>`: drops the schema with all its data and removes the tenant
 * and its keys, in one transaction. Asks to type the schema name, unless `--yes`. An active
 * tenant must be suspended first, unless `--force`: a tenant is never dropped by a slip.
 */
export async function runDelete(ctx: CommandContext, schema: string, flags: { yes?: boolean; force?: boolean }) {
  const { output, prompts } = ctx
  if (!flags.yes && !prompts) {
    throw new UsageError('delete asks you to type the schema name to confirm; without a terminal pass --yes')
  }
  const services = await ctx.services()
  const tenant = await services.tenants.getTenant(schema)
  if (tenant.suspendedAt === null && !flags.force) {
    throw new CommandFailedError(
      `${tenant.schemaName} is active: suspend it first (\`tenantctl suspend ${tenant.schemaName}\`), or pass --force to delete it anyway; nothing was deleted`,
    )
  }
  const keys = await services.apiKeys.listApiKeys(tenant)
  if (!flags.yes && prompts) {
    const s = output.noteStyle
    output.note(
      s.yellow(
        `This drops schema ${s.bold(tenant.schemaName)} with all the data of ${s.bold(tenant.name)} ` +
          `and revokes its ${keys.length} api key${keys.length === 1 ? '' : 's'}. It cannot be undone.`,
      ),
    )
    const typed = await prompts.input({ message: `Type ${tenant.schemaName} to confirm` })
    if (typed.trim() !== tenant.schemaName) throw new CancelledError('the name typed does not match: nothing was deleted')
  }
  const deleted = await services.tenants.deleteTenant(tenant.schemaName, { force: flags.force ?? false })
  const result = { tenant: deleted, keysRevoked: keys.length }
  if (output.json) output.writeJson(result)
  else
    output.line(
      `${output.style.green('✔')} Deleted tenant ${deleted.name}: ` +
        (deleted.schemaExisted ? `schema ${deleted.schemaName} dropped` : `schema ${deleted.schemaName} was already gone (registry row removed)`) +
        `, ${keys.length} api key${keys.length === 1 ? '' : 's'} revoked.`,
    )
  return result
}
