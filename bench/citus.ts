/**
 * tenantbase on Citus beside plain PostgreSQL, in one run on one server: the plain database
 * is a database of the coordinator's own server without the citus extension, so both sides
 * run the same PostgreSQL build, settings and machine.
 *
 *   1. tenant creation (createTenant), alternating plain and Citus: p50 and p95
 *   2. a two-statement tenant migration of every tenant (migrateAll, concurrency 4)
 *   3. GET /api/posts/ for a random tenant through the real API, alternating rounds
 *   4. a live move of a tenant (citus_schema_move) under 60 concurrent POSTs, every
 *      request's answer counted: the bar is no failed request
 *
 *   pnpm bench:citus --citus postgres://postgres@127.0.0.1:9700/postgres \
 *     --workers 127.0.0.1:9701,127.0.0.1:9702 [--tenants 1000] [--seconds 5] [--rounds 3] [--moves 3]
 *
 * (BENCH_CITUS_URL and BENCH_CITUS_WORKERS may stand for the two flags.) The coordinator
 * reaches the workers as --workers names them; the nodes need the citus extension loaded
 * (shared_preload_libraries) and wal_level = logical for the live move.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_MIGRATIONS_DIR, createServices, formatNode, loadDeployment, readModuleMigrations, type Services } from '@tenantbase/core'
import { createTestDatabase, testCitusWorkers, type TestDatabase } from '@tenantbase/core/testing'
import { WRITE_DOCS_OPTION, writeDocsSection } from './docs-section.js'
import { startServerProcess, stopServerProcesses } from './server-processes.js'

const require = createRequire(new URL('../packages/api/package.json', import.meta.url))
const autocannon = require('autocannon') as typeof import('autocannon')

const { values } = parseArgs({
  options: {
    citus: { type: 'string', default: process.env.BENCH_CITUS_URL },
    workers: { type: 'string', default: process.env.BENCH_CITUS_WORKERS },
    tenants: { type: 'string', default: '1000' },
    'api-tenants': { type: 'string', default: '20' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    moves: { type: 'string', default: '3' },
    ...WRITE_DOCS_OPTION,
  },
})
const TENANTS = Number(values.tenants)
const API_TENANTS = Math.min(Number(values['api-tenants']), TENANTS)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const MOVES = Number(values.moves)
if (!values.citus || !values.workers || ![TENANTS, API_TENANTS, SECONDS, ROUNDS, MOVES].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(
    'usage: pnpm bench:citus --citus <coordinator url> --workers host:port,host:port [--tenants N] [--seconds S] [--rounds R] [--moves M]',
  )
  process.exit(2)
}
const workers = testCitusWorkers(values.workers)
const JWT_SECRET = 'bench-secret-that-is-at-least-32-bytes-long'
const PASSWORD = 'bench-password'
const MIGRATION = 'alter table posts add column published_at timestamptz;\ncreate index posts_published_at_idx on posts (published_at);\n'

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
const ms = (value: number) => `${value.toFixed(1)} ms`

interface Side {
  readonly label: 'plain' | 'citus'
  readonly db: TestDatabase
  readonly services: Services
  readonly migrationsDir: string
  readonly seeded: { key: string; email: string; schemaName: string }[]
  readonly creations: number[]
}

async function openSide(label: Side['label']): Promise<Side> {
  const db = await createTestDatabase({ serverUrl: values.citus!, citusWorkers: label === 'citus' ? workers : [], poolMax: 6 })
  const migrationsDir = path.join(await mkdtemp(path.join(tmpdir(), `tenantbase-bench-citus-${label}-`)), 'migrations')
  await cp(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true, filter: (source) => !source.endsWith('.ts') })
  const services = await createServices({
    sql: db.sql,
    migrations: await benchMigrations(migrationsDir),
    config: { apiKeyCache: { ttlMs: 30_000, max: 10_000 }, auth: { bcryptCost: 10 } } as never,
  })
  await services.migrateAll()
  return { label, db, services, migrationsDir, seeded: [], creations: [] }
}

const sides = [await openSide('plain'), await openSide('citus')]
const [plain, citus] = sides as [Side, Side]
const version = (await plain.db.sql`select current_setting('server_version') as v`)[0]!.v
const citusVersion = await citus.services.citus.citusVersion()
console.log(
  `tenantbase bench:citus: PostgreSQL ${version}, Citus ${citusVersion}, ${workers.length} workers (${workers.map(formatNode).join(', ')}), node ${process.version}`,
)
console.log(`plain: a database on the coordinator's server without the citus extension\n`)

console.log(`1. Creating ${TENANTS} tenants on each, alternating (registry row, schema, migrations, first key: one transaction)`)
for (let i = 0; i < TENANTS; i++) {
  for (const side of sides) {
    const schemaName = `bench_${String(i).padStart(5, '0')}`
    const started = performance.now()
    const { tenant, apiKey } = await side.services.tenants.createTenant({ name: `Bench ${i}`, schemaName })
    side.creations.push(performance.now() - started)
    if (i < API_TENANTS) {
      const email = `user${i}@example.com`
      const user = await side.services.users.registerUser(tenant, { email, password: PASSWORD })
      for (let p = 0; p < 20; p++) await side.services.posts.createPost(tenant, user.id, { title: `post ${p}`, body: 'x'.repeat(200) })
      side.seeded.push({ key: apiKey.key, email, schemaName })
    }
  }
}
const creation = Object.fromEntries(
  sides.map((side) => {
    const sorted = [...side.creations].sort((a, b) => a - b)
    return [side.label, { p50: percentile(sorted, 50), p95: percentile(sorted, 95) }]
  }),
) as Record<Side['label'], { p50: number; p95: number }>
for (const side of sides)
  console.log(`   ${side.label.padEnd(6)} p50 ${ms(creation[side.label].p50).padEnd(10)} p95 ${ms(creation[side.label].p95)}`)
console.log(
  `   citus / plain: p50 ${(creation.citus.p50 / creation.plain.p50).toFixed(2)}x, p95 ${(creation.citus.p95 / creation.plain.p95).toFixed(2)}x\n`,
)
// The summary table, for --write-docs: one row per step, as each ends.
const summary = ['| what | plain | Citus | Citus / plain |', '| --- | --- | --- | --- |']
summary.push(
  `| tenant creation p50 / p95 | ${ms(creation.plain.p50)} / ${ms(creation.plain.p95)} | ${ms(creation.citus.p50)} / ${ms(creation.citus.p95)} | ` +
    `${(creation.citus.p50 / creation.plain.p50).toFixed(1)}x / ${(creation.citus.p95 / creation.plain.p95).toFixed(1)}x |`,
)

console.log(`2. A two-statement tenant migration (add a column, create an index) of all ${TENANTS} tenants, concurrency 4`)
const migration: Record<string, number> = {}
for (const side of sides) {
  await writeFile(path.join(side.migrationsDir, 'tenant', '0900_bench_published_at.sql'), MIGRATION)
  const next = await createServices({ sql: side.db.sql, migrations: await benchMigrations(side.migrationsDir) })
  const started = performance.now()
  const report = await next.migrateAll({ concurrency: 4 })
  migration[side.label] = performance.now() - started
  if (report.failed > 0)
    throw new Error(`${side.label}: ${report.failed} tenants failed to migrate: ${report.tenants.find((r) => !r.ok)?.error}`)
  console.log(`   ${side.label.padEnd(6)} ${(migration[side.label]! / 1000).toFixed(1)} s (${report.tenants.length} tenants)`)
}
console.log(`   citus / plain: ${(migration.citus! / migration.plain!).toFixed(2)}x\n`)
summary.push(
  `| two-statement migration of ${TENANTS} tenants | ${(migration.plain! / 1000).toFixed(1)} s | ${(migration.citus! / 1000).toFixed(1)} s | ` +
    `${(migration.citus! / migration.plain!).toFixed(1)}x |`,
)

/** An API process (bench/api-servers.mjs, as server.ts builds it) on `side`'s database. */
async function startApi(side: Side): Promise<string> {
  const env = {
    ...process.env,
    DATABASE_URL: side.db.url,
    JWT_SECRET,
    BCRYPT_COST: '10',
    LOG_LEVEL: 'warn',
    LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '100000',
  }
  return (await startServerProcess('api', [], env)).url
}

/** One prebuilt request per seeded tenant, each with its key and a logged-in user's token. */
async function perTenantRequests(url: string, side: Side, request: { method?: 'POST'; body?: string } = {}) {
  const requests = []
  for (const tenant of side.seeded) {
    const response = await fetch(`${url}/api/users/login/`, {
      method: 'POST',
      headers: { 'api-key': tenant.key, 'content-type': 'application/json' },
      body: JSON.stringify({ email: tenant.email, password: PASSWORD }),
    })
    if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`)
    const { access_token: token } = (await response.json()) as { access_token: string }
    const contentType = request.body === undefined ? {} : { 'content-type': 'application/json' }
    requests.push({ ...request, headers: { 'api-key': tenant.key, authorization: `Bearer ${token}`, ...contentType } })
  }
  return requests.sort(() => Math.random() - 0.5)
}

try {
  const urls = { plain: await startApi(plain), citus: await startApi(citus) }
  const lists = { plain: await perTenantRequests(urls.plain, plain), citus: await perTenantRequests(urls.citus, citus) }
  console.log(
    `3. GET /api/posts/ (20 posts) for a random one of ${API_TENANTS} tenants, 32 connections, ${ROUNDS} alternating rounds of ${SECONDS} s`,
  )
  const rps: Record<string, number[]> = { plain: [], citus: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const label of ['plain', 'citus'] as const) {
      const result = await autocannon({ url: `${urls[label]}/api/posts/`, requests: lists[label], connections: 32, duration: SECONDS })
      if (result.non2xx + result.errors > 0) throw new Error(`${label}: ${result.non2xx} non-2xx and ${result.errors} errors`)
      rps[label]!.push(result.requests.average)
    }
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
  for (const label of ['plain', 'citus'])
    console.log(`   ${label.padEnd(6)} ${Math.round(median(rps[label]!))} req/s (rounds: ${rps[label]!.map(Math.round).join(', ')})`)
  console.log(`   citus / plain: ${(median(rps.citus!) / median(rps.plain!)).toFixed(2)}\n`)
  summary.push(
    `| \`GET /api/posts/\`, req/s | ${Math.round(median(rps.plain!))} | ${Math.round(median(rps.citus!))} | ${(median(rps.citus!) / median(rps.plain!)).toFixed(2)} |`,
  )

  console.log(`4. Live moves of one tenant under 60 concurrent POST /api/posts/ (its own key and user)`)
  const moved = citus.seeded[0]!
  const [tenant] = await citus.db.sql<{ id: number }[]>`select id from public.tenants where schema_name = ${moved.schemaName}`
  // Some bulk, so that the copy takes a while: 20,000 posts of 1 kB.
  await citus.db.sql`
    insert into ${citus.db.sql(moved.schemaName)}.posts (author_id, title, body)
    select (select min(id) from ${citus.db.sql(moved.schemaName)}.users), 'bulk ' || i, repeat('y', 1000) from generate_series(1, 20000) i`
  const posts = (
    await perTenantRequests(
      urls.citus,
      { ...citus, seeded: [moved] },
      { method: 'POST', body: JSON.stringify({ title: 'during a move', body: 'z'.repeat(200) }) },
    )
  )[0]!
  let failedTotal = 0
  let answeredTotal = 0
  const moveSeconds: number[] = []
  for (let move = 0; move < MOVES; move++) {
    const placement = (await citus.services.citus.tenantPlacements())!.get(moved.schemaName)!
    const target = workers.find((w) => formatNode(w) !== formatNode(placement))!
    const statuses = new Map<number, number>()
    let errors = 0
    const load = autocannon({ url: `${urls.citus}/api/posts/`, requests: [posts], connections: 60, duration: 600 })
    load.on('response', (_client: unknown, status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1))
    load.on('reqError', () => errors++)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const started = performance.now()
    await citus.services.citus.moveTenant(moved.schemaName, target)
    const seconds = (performance.now() - started) / 1000
    await new Promise((resolve) => setTimeout(resolve, 1000))
    load.stop()
    const result = await load
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0)
    const failed = answered - (statuses.get(201) ?? 0) + errors + result.timeouts
    failedTotal += failed
    answeredTotal += answered
    moveSeconds.push(seconds)
    console.log(
      `   move ${move + 1}: ${formatNode(placement)} -> ${formatNode(target)} in ${seconds.toFixed(2)} s; ` +
        `${answered} requests answered during the load, ${statuses.get(201) ?? 0} of them 201, failed ${failed}` +
        (failed > 0 ? ` (statuses ${JSON.stringify(Object.fromEntries(statuses))}, errors ${errors}, timeouts ${result.timeouts})` : ''),
    )
  }
  const [{ count }] = (await citus.db.sql`select count(*)::int as count from ${citus.db.sql(moved.schemaName)}.posts`) as unknown as [
    { count: number },
  ]
  console.log(`   tenant ${tenant!.id} holds ${count} posts after the moves; failed requests in all: ${failedTotal} (bar: 0)`)
  summary.push(
    `| live move of a tenant under 60 concurrent POSTs (${MOVES} moves) | | ` +
      `${Math.min(...moveSeconds).toFixed(1)} to ${Math.max(...moveSeconds).toFixed(1)} s each | ${failedTotal} failed of ${answeredTotal} |`,
  )
  if (values['write-docs']) {
    await writeDocsSection(
      'citus',
      summary.join('\n'),
      `PostgreSQL ${version}, Citus ${citusVersion}, ${workers.length} workers; plain is a database of the coordinator's server without the extension`,
    )
  }
  process.exitCode = failedTotal === 0 ? 0 : 1
} finally {
  await stopServerProcesses()
  for (const side of sides) await side.db.drop()
}

/** The deployment's migrations (its tenantbase.config), with core's read from the benchmark's copy. */
async function benchMigrations(coreDir: string) {
  const deployment = await loadDeployment()
  return readModuleMigrations([{ name: 'core', migrations: coreDir }, ...deployment.modules.slice(1)])
}
