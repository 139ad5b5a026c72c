import type { CommandContext } from '../context.js'
import { KEY_TABLE_HEAD, keyTableRow } from '../key-table.js'

/** `tenantctl keys list <schema>`: a tenant's keys by prefix (the keys themselves are never stored). */
export async function runKeysList(ctx: CommandContext, schema: string) {
  const services = await ctx.services()
  const tenant = await services.tenants.getTenant(schema)
  const keys = await services.apiKeys.listApiKeys(tenant)
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
    KEY_TABLE_HEAD,
    keys.map((key) => keyTableRow(key)),
  )
  return keys
}
