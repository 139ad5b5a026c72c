import type { CommandContext } from '../context.js'

/** `tenantctl keys revoke <prefix>`: every API process stops accepting the key within a second. */
export async function runKeysRevoke(ctx: CommandContext, prefix: string) {
  const services = await ctx.services()
  const key = await services.apiKeys.revokeApiKey(prefix)
  const { output } = ctx
  if (output.json) output.writeJson(key)
  else output.line(`${output.style.green('✔')} Revoked api key ${key.prefix} ("${key.name}").`)
  return key
}
