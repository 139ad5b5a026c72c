import type { CommandContext } from '../context.js'

/**
 * `tenantctl keys revoke <prefix or key>`: every API process stops accepting the key within
 * a second. A whole key pasted is accepted and never printed: only its prefix is.
 */
export async function runKeysRevoke(ctx: CommandContext, prefixOrKey: string) {
  const services = await ctx.services()
  const key = await services.apiKeys.revokeApiKey(prefixOrKey.trim())
  const { output } = ctx
  if (output.json) output.writeJson(key)
  else if (key.alreadyRevoked) output.line(`API key ${key.prefix} ("${key.name}") was already revoked: nothing changed.`)
  else output.line(`${output.style.green('✔')} Revoked api key ${key.prefix} ("${key.name}").`)
  return key
}
