import type { ApiKeyScope } from '@tenantbase/core'
import type { CommandContext } from '../context.js'
import { UsageError } from '../errors.js'
import { formatTime } from '../output.js'

export interface KeysCreateFlags {
  readonly name?: string
  /** `--expires-in` as parsed by the option: milliseconds from now. */
  readonly expiresIn?: number
  readonly scope?: ApiKeyScope
}

/**
 * `tenantctl keys create <schema> --name N`: a new api key, shown once. The name is required:
 * the first key is "default", and a second "default" could not be told apart in `keys list`.
 */
export async function runKeysCreate(ctx: CommandContext, schema: string, flags: KeysCreateFlags) {
  const expiresAt = flags.expiresIn === undefined ? null : new Date(Date.now() + flags.expiresIn)
  const scope = flags.scope ?? 'write'
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
