import { API_KEY_SCOPES, type ApiKeyScope } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { parseDuration } from '../durations.js'
import { UsageError } from '../errors.js'
import { formatTime } from '../output.js'

/** Parses `--expires-in` (90s, 15m, 24h, 30d, 1y) into a date from `now`. A unit is required. */
export function parseExpiresIn(value: string, now = Date.now()): Date {
  return new Date(now + parseDuration('--expires-in', value))
}

/** Parses `--scope`: read or write. */
export function parseScope(value: string): ApiKeyScope {
  if (!(API_KEY_SCOPES as readonly string[]).includes(value)) {
    throw new UsageError(
      `--scope: "${value}" is not a scope; use ${API_KEY_SCOPES.join(' or ')} (read: GET routes only; write: everything)`,
    )
  }
  return value as ApiKeyScope
}

/**
 * `tenantctl keys create <schema> --name N`: a new api key, shown once. The name is required:
 * the first key is "default", and a second "default" could not be told apart in `keys list`.
 */
export async function runKeysCreate(ctx: CommandContext, schema: string, flags: { name?: string; expiresIn?: string; scope?: string }) {
  const expiresAt = flags.expiresIn === undefined ? null : parseExpiresIn(flags.expiresIn)
  const scope = parseScope(flags.scope ?? 'write')
  if (flags.name === undefined) {
    throw new UsageError(
      `missing --name: name the key for what will use it (such as --name ci or --name dashboard), so that \`tenantctl keys list ${schema}\` tells it from the others`,
    )
  }
  const services = await ctx.services()
  const tenant = await services.tenants.getTenant(schema)
  const apiKey = await services.apiKeys.issueApiKey(tenant, { name: flags.name, expiresAt, scope })
  const { output } = ctx
  if (output.json) {
    output.writeJson({ tenant: { id: tenant.id, name: tenant.name, schemaName: tenant.schemaName }, apiKey })
    return apiKey
  }
  const s = output.style
  output.line(`${s.green('✔')} New ${apiKey.scope} api key "${apiKey.name}" for ${s.bold(tenant.name)} (${tenant.schemaName}):`)
  output.line(`  ${s.bold(apiKey.key)}`)
  if (apiKey.expiresAt) output.line(`  expires ${formatTime(apiKey.expiresAt)}`)
  output.line(s.yellow(`! Store this key now: it is not shown again. Revoke it with \`tenantctl keys revoke ${apiKey.prefix}\`.`))
  return apiKey
}
