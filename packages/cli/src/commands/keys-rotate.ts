import type { CommandContext } from '../context.js'
import { parseDuration } from '../durations.js'
import { DEFAULT_GRACE } from '../option-parsers.js'
import { formatTime } from '../output.js'

/**
 * `tenantctl keys rotate <prefix|key>`: a new key for the same tenant, scope and expiry
 * (shown once); the old key keeps working for the grace period, never past its own expiry.
 */
export async function runKeysRotate(ctx: CommandContext, prefixOrKey: string, flags: { grace?: number; name?: string }) {
  const graceMs = flags.grace ?? parseDuration('--grace', DEFAULT_GRACE)
  const services = await ctx.services()
  const rotated = await services.apiKeys.rotateApiKey(prefixOrKey, { graceMs, ...(flags.name !== undefined && { name: flags.name }) })
  const { output } = ctx
  if (output.json) {
    output.writeJson(rotated)
    return rotated
  }
  const { old, issued } = rotated
  const s = output.style
  output.line(`${s.green('✔')} Rotated api key ${old.prefix} ("${old.name}") to a new ${issued.scope} key "${issued.name}":`)
  output.line(`  ${s.bold(issued.key)}`)
  if (issued.expiresAt) output.line(`  expires ${formatTime(issued.expiresAt)}, as the old key did`)
  output.line(
    old.revokedAt
      ? `  ${old.prefix} is revoked now.`
      : `  ${old.prefix} keeps working until ${formatTime(old.expiresAt)}; every API process refuses it from then on.`,
  )
  output.line(s.yellow(`! Store this key now: it is not shown again. Revoke it with \`tenantctl keys revoke ${issued.prefix}\`.`))
  return rotated
}
