import type { CommandContext } from '../context.js'
import { formatTime } from '../output.js'
import { keyStatus } from './key-status.js'

/** `tenantctl keys list <schema>`: a tenant's keys by prefix (the keys themselves are never stored). */
export async function runKeysList(ctx: CommandContext, schema: string) {
  const services = await ctx.services()
  const tenant = await services.tenants.getTenant(schema)
  const keys = (await services.apiKeys.listApiKeys(tenant)).map((key) => ({ ...key, status: keyStatus(key) }))
  const { output } = ctx
  if (output.json) {
    output.writeJson(keys)
    return keys
  }
  if (keys.length === 0) {
    output.line(`${tenant.schemaName} has no api keys. Issue one with \`tenantctl keys create ${tenant.schemaName}\`.`)
    return keys
  }
  output.table(
    ['PREFIX', 'NAME', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'],
    keys.map((key) => [key.prefix, key.name, key.status, formatTime(key.createdAt), formatTime(key.expiresAt), formatTime(key.lastUsedAt)]),
  )
  return keys
}
