import type { CommandContext } from '../context.js'
import { formatTime } from '../output.js'

/**
 * `tenantctl suspend <schema>`: every API process answers the tenant's requests with 403
 * TENANT_SUSPENDED within a second; its data, users and keys stay. Idempotent; on a suspended
 * tenant, `--reason` or `--show-reason` change its reason and the reason's visibility in place.
 */
export async function runSuspend(ctx: CommandContext, schema: string, flags: { reason?: string; showReason?: boolean }) {
  const services = await ctx.services()
  const change = await services.tenants.suspendTenant(schema, {
    ...(flags.reason !== undefined && { reason: flags.reason }),
    ...(flags.showReason !== undefined && { showReason: flags.showReason }),
  })
  const { output } = ctx
  if (output.json) {
    output.writeJson(change)
    return change
  }
  const { tenant } = change
  if (!change.changed) {
    output.line(
      `${tenant.schemaName} is already suspended (since ${formatTime(tenant.suspendedAt)}): nothing changed.` +
        (flags.reason === undefined && flags.showReason === undefined
          ? ' Pass --reason (and --show-reason) to change its reason, and whether its callers see it.'
          : ''),
    )
    return change
  }
  const reason = tenant.suspensionReason
    ? ` Reason: ${tenant.suspensionReason}${tenant.suspensionReasonPublic ? ' (shown to its callers)' : ''}.`
    : ''
  if (change.updatedInPlace) {
    const now = tenant.suspensionReason
      ? `reason now: ${tenant.suspensionReason} (${tenant.suspensionReasonPublic ? 'shown' : 'not shown'} to its callers)`
      : 'no reason'
    output.line(
      `${output.style.green('✔')} Updated the suspension of ${tenant.name} (${tenant.schemaName}, suspended since ` +
        `${formatTime(tenant.suspendedAt)}): ${now}.`,
    )
    return change
  }
  output.line(
    `${output.style.green('✔')} Suspended ${tenant.name} (${tenant.schemaName}): its requests get 403 TENANT_SUSPENDED; ` +
      `its data and keys are kept.${reason} Resume it with \`tenantctl resume ${tenant.schemaName}\`.`,
  )
  return change
}

/** `tenantctl resume <schema>`: the tenant is served again. Idempotent. */
export async function runResume(ctx: CommandContext, schema: string) {
  const services = await ctx.services()
  const change = await services.tenants.resumeTenant(schema)
  const { output } = ctx
  if (output.json) output.writeJson(change)
  else if (!change.changed) output.line(`${change.tenant.schemaName} is not suspended (already active): nothing changed.`)
  else output.line(`${output.style.green('✔')} Resumed ${change.tenant.name} (${change.tenant.schemaName}): its requests are served again.`)
  return change
}
