import ms from 'ms'
import type { CommandContext } from '../context.js'
import { UsageError } from '../errors.js'
import { formatTime } from '../output.js'

/** Parses `--expires-in` (30d, 12h, 2w, 1y...) into a date from `now`. A unit is required. */
export function parseExpiresIn(value: string, now = Date.now()): Date {
  const trimmed = value.trim()
  const duration = /^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration <= 0) {
    throw new UsageError(`--expires-in: "${value}" is not a duration such as 30d, 12h or 1y`)
  }
  return new Date(now + duration)
}

/** `tenantctl keys create <schema>`: a new api key, shown once. */
export async function runKeysCreate(ctx: CommandContext, schema: string, flags: { name?: string; expiresIn?: string }) {
  const expiresAt = flags.expiresIn === undefined ? null : parseExpiresIn(flags.expiresIn)
  const services = await ctx.services()
  const tenant = await services.tenants.getTenant(schema)
  const apiKey = await services.apiKeys.issueApiKey(tenant, { ...(flags.name !== undefined && { name: flags.name }), expiresAt })
  const { output } = ctx
  if (output.json) {
    output.writeJson({ tenant: { id: tenant.id, name: tenant.name, schemaName: tenant.schemaName }, apiKey })
    return apiKey
  }
  const s = output.style
  output.line(`${s.green('✔')} New api key "${apiKey.name}" for ${s.bold(tenant.name)} (${tenant.schemaName}):`)
  output.line(`  ${s.bold(apiKey.key)}`)
  if (apiKey.expiresAt) output.line(`  expires ${formatTime(apiKey.expiresAt)} UTC`)
  output.line(s.yellow(`! Store this key now: it is not shown again. Revoke it with \`tenantctl keys revoke ${apiKey.prefix}\`.`))
  return apiKey
}
