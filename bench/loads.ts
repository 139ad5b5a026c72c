/**
 * The three loads of bench/tenant-loads.ts (cold, warm, Zipf; the API against one shared table
 * keyed by tenant_id) on a database `bench:scale --keep` grew, without growing it again: to
 * try a setting of the API's on the same tenants. `--api-env` passes settings to the API
 * processes (`NAME=VALUE`, repeatable).
 *
 *   DATABASE_URL=<kept bench:scale database> node --import tsx bench/loads.ts [--api-env NAME=VALUE]... [--seconds 3] [--rounds 3] [--cold-tenants N]
 */
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { fillSharedTable, keptTenants, measureTenantLoads, tenantLoadsReport } from './tenant-loads.js'

const { values } = parseArgs({
  options: {
    'api-env': { type: 'string', multiple: true, default: [] },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    'cold-tenants': { type: 'string' },
  },
})
const url = process.env.DATABASE_URL
const apiEnv = Object.fromEntries(values['api-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
if (!url || values['api-env'].some((pair) => !/^[A-Z_][A-Z0-9_]*=/.test(pair))) {
  console.error(
    'usage: DATABASE_URL=<a database grown by bench:scale --keep> node --import tsx bench/loads.ts [--api-env NAME=VALUE]... [--seconds S] [--rounds R] [--connections C] [--cold-tenants N]',
  )
  process.exit(2)
}
const sql = postgres(url, { max: 1, onnotice: () => {} })
const tenants = await keptTenants(sql)
await sql.end()
console.log(
  `${tenants.length} tenants; ${await fillSharedTable(url, tenants)} posts in the shared table; the API with ${JSON.stringify(apiEnv)}`,
)
const result = await measureTenantLoads({
  url,
  tenants,
  jwtSecret: 'bench-loads-secret-that-is-at-least-32-bytes',
  env: { ...process.env, LOG_LEVEL: 'warn', ...apiEnv },
  connections: Number(values.connections),
  seconds: Number(values.seconds),
  rounds: Number(values.rounds),
  coldTenants: values['cold-tenants'] === undefined ? undefined : Number(values['cold-tenants']),
  print: console.log,
})
console.log(`\n${tenantLoadsReport([result])}`)
