/**
 * The HTTP API under load, beside its two ceilings, measured in one run and alternating
 * the targets round by round so the machine's drift hits all alike:
 *
 *   hello        bare Fastify hello-world                                   (ceiling)
 *   fixed        bare Fastify + postgres.js: 20 posts from one fixed schema (ceiling)
 *   healthz      the API's GET /healthz: its per-request base (logger, hooks), no auth, no query
 *   auth         the API's api-key + JWT hooks on a route doing no query    target >= 75% of hello
 *   list         GET /api/posts/ (20 posts), another tenant each request     target >= 85% of fixed, p99 <= 1.5x fixed's
 *   few          the same, each request naming one of only 10 of the tenants
 *   unprepared   the same as list from a second API process with DB_PREPARED_STATEMENTS=0
 *   shared       the same from an API process with DB_TENANT_CONNECTIONS=0 (every tenant's queries
 *                on one shared pool, no home connections)
 *   metrics      the same from another API process recording metrics (METRICS_PORT,
 *                METRICS_PER_TENANT set to the tenant count: every tenant has its series)    target >= 97% of list
 *   create       POST /api/posts/, another tenant each request
 *   keyed        the same with an Idempotency-Key header, a new key each request (the cost of storing the answer)
 *   keyhost      the list from an API process that finds tenants by host name too
 *                (TENANT_RESOLUTION=api-key,host), each request with its api key
 *   host         the same process and list, each request found by its host name
 *                (`<schema>.<base domain>`, no api key) with its user's token
 *
 * It starts a throwaway embedded PostgreSQL, creates the tenants through core's createTenant
 * (a bench fixture adds each one's user and 100 posts in one statement, and access tokens
 * are signed here with the API's secret), starts each server in its own process and drives it with
 * autocannon from this one. Prints requests/s, p50, p99, the CPU time per request of the
 * server and of the load generator (medians of the rounds), and ratios. The CPU times are
 * steadier than requests/s on a shared machine: they say where a target's time goes.
 *
 *   pnpm bench:api [--tenants 20] [--posts 100] [--seconds 5] [--rounds 3] [--connections 32]
 */
import { mkdtemp } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { createServices, loadConfig, loadDeployment, openDatabase, startEmbeddedCluster } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'
import { createApiMetrics } from '@tenantbase/api/metrics'
import { backendMemoryMiB, cpuTimeUs } from './backend-memory.js'
import { WRITE_DOCS_OPTION, writeDocsSection } from './docs-section.js'
import { startServerProcess, stopServerProcesses, type ServerProcess } from './server-processes.js'
import { accessToken, fillSharedTable, measureTenantLoads, namedUrl, tenantLoadsReport } from './tenant-loads.js'

const require = createRequire(new URL('../packages/api/package.json', import.meta.url))
const autocannon = require('autocannon') as typeof import('autocannon')

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '20' },
    posts: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    ...WRITE_DOCS_OPTION,
  },
})
const TENANTS = Number(values.tenants)
const POSTS = Number(values.posts)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const JWT_SECRET = 'bench-secret-that-is-at-least-32-bytes-long'
const FEW_TENANTS = 10
/** The host-resolving API process's TENANT_BASE_DOMAIN: `<schema>.bench.test` names a tenant. */
const BASE_DOMAIN = 'bench.test'

console.log(`starting a throwaway embedded PostgreSQL...`)
const cluster = await startEmbeddedCluster({
  dataDir: path.join(await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-api-')), 'pg'),
  port: await freePort(),
  user: 'postgres',
  password: 'postgres',
  database: 'bench_api',
  persistent: false,
})
const env = { ...process.env, DATABASE_URL: cluster.url, JWT_SECRET, BCRYPT_COST: '10', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }
const config = loadConfig(env)
const db = await openDatabase(config.database)
// The deployment's modules, as the API processes below read them from tenantbase.config.
const services = await createServices({
  sql: db.sql,
  tenantConnections: db.tenantConnections,
  config,
  migrations: (await loadDeployment()).migrations,
})
await services.migrateAll()

// The fixture's inserts run on connections of their own, unprepared and replaced every 20 s:
// a connection that inserts into many tenants' posts keeps a foreign-key check plan for each,
// and every table createTenant then creates costs it a walk over all of them.
const fixture = postgres(cluster.url, { max: 1, prepare: false, max_lifetime: 20, onnotice: () => {} })
console.log(`seeding ${TENANTS} tenants (createTenant), each with a user and ${POSTS} posts...`)
const seeded: { key: string; tenantId: number; userId: number; schemaName: string }[] = []
const seedStart = performance.now()
for (let i = 0; i < TENANTS; i++) {
  const schemaName = `bench_${String(i).padStart(5, '0')}`
  const { tenant, apiKey } = await services.tenants.createTenant({ name: `Bench ${i}`, schemaName })
  // A benchmark fixture, not core's path: one statement writes the user and the posts
  // (registerUser's bcrypt would take minutes over 10,000 tenants, and no one logs in).
  const schema = fixture(schemaName)
  const [user] = await fixture<{ id: number }[]>`
    with author as (
      insert into ${schema}.users (email, password_hash) values (${`user${i}@example.com`}, 'bench: no login') returning id
    ), posts as (
      insert into ${schema}.posts (author_id, title, body)
      select author.id, 'post ' || g || ' of ' || ${i}::int, repeat('x', 200) from author, generate_series(1, ${POSTS}::int) g
    )
    select id from author`
  seeded.push({ key: apiKey.key, tenantId: tenant.id, userId: user!.id, schemaName })
  if ((i + 1) % 1000 === 0) console.log(`  ${i + 1} tenants (${((performance.now() - seedStart) / 1000).toFixed(0)} s)`)
}
await fixture.end()
await db.sql`vacuum analyze`

type Server = ServerProcess
const startServer = (mode: string, args: string[] = [], extraEnv: Record<string, string> = {}) =>
  startServerProcess(mode, args, { ...env, ...extraEnv })

// A second API with DB_PREPARED_STATEMENTS=0 shows what prepared statements give.
// A third with metrics recorded shows what they cost.
// A fourth without home connections for tenants shows what they give.
// A fifth finds tenants by host name too: the same list by key and by host, side by side.
const [hello, fixed, api, apiUnprepared, apiMetrics, apiShared, apiHost] = await Promise.all([
  startServer('hello'),
  startServer('fixed', [namedUrl(cluster.url, 'bench_fixed'), seeded[0]!.schemaName]),
  startServer('api', [], { DATABASE_URL: namedUrl(cluster.url, 'bench_api') }),
  startServer('api', [], { DATABASE_URL: namedUrl(cluster.url, 'bench_api_unprepared'), DB_PREPARED_STATEMENTS: '0' }),
  startServer('api', [], {
    DATABASE_URL: namedUrl(cluster.url, 'bench_api_metrics'),
    METRICS_PORT: String(await freePort()),
    METRICS_PER_TENANT: String(TENANTS),
  }),
  startServer('api', [], { DATABASE_URL: namedUrl(cluster.url, 'bench_api_shared'), DB_TENANT_CONNECTIONS: '0' }),
  startServer('api', [], {
    DATABASE_URL: namedUrl(cluster.url, 'bench_api_host'),
    TENANT_RESOLUTION: 'api-key,host',
    TENANT_BASE_DOMAIN: BASE_DOMAIN,
  }),
])

const sessions = seeded.map((tenant) => ({
  key: tenant.key,
  authorization: `Bearer ${accessToken(JWT_SECRET, tenant.userId, tenant.tenantId)}`,
  host: `${tenant.schemaName}.${BASE_DOMAIN}`,
}))
const check = await fetch(`${api.url}/api/posts/`, { headers: { 'api-key': sessions[0]!.key, authorization: sessions[0]!.authorization } })
if (check.status !== 200) throw new Error(`the list failed: ${check.status} ${await check.text()}`)
{
  // fetch sets its own Host: autocannon, below, sends the tenant's.
  const { request } = await import('node:http')
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const url = new URL(`${apiHost.url}/api/posts/`)
    request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { host: sessions[0]!.host, authorization: sessions[0]!.authorization },
      },
      (res) => resolve(res.resume().statusCode),
    )
      .on('error', reject)
      .end()
  })
  if (status !== 200) throw new Error(`the host-resolved list failed: ${status}`)
}

/**
 * One prebuilt request per tenant, in a random order: each connection cycles through them,
 * so every request names another tenant than the one before it.
 *
 * NOTE: prebuilt, not drawn per request in autocannon's setupRequest: rebuilt, an
 * authenticated request cost the load generator 85 us of CPU instead of 58 to 67, and on
 * two cores shared with the server that CPU came out of the server's share, which the
 * ceilings (static requests) never paid.
 */
function perTenant(request: { method?: 'POST'; body?: string } = {}, of = sessions, by: 'key' | 'host' = 'key') {
  const shuffled = [...of].sort(() => Math.random() - 0.5)
  return shuffled.map((session) => ({
    ...request,
    headers: {
      ...(by === 'key' ? { 'api-key': session.key } : { host: session.host }),
      authorization: session.authorization,
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
  }))
}

const createPost = perTenant({ method: 'POST', body: JSON.stringify({ title: 'bench post', body: 'x'.repeat(200) }) })
/** `requests` with headers autocannon fills with a new id each request (`idReplacement`). */
function withIdHeaders(requests: ReturnType<typeof perTenant>, names: readonly string[]) {
  return requests.map((request) => ({
    ...request,
    headers: { ...request.headers, ...Object.fromEntries(names.map((name) => [name, '[<id>]'])) },
  }))
}

type Options = Parameters<typeof autocannon>[0]
interface Target {
  readonly server: Server
  readonly options: Options
}
const targets: Record<string, Target> = {
  hello: { server: hello, options: { url: `${hello.url}/` } },
  fixed: { server: fixed, options: { url: `${fixed.url}/posts/` } },
  healthz: { server: api, options: { url: `${api.url}/healthz` } },
  auth: { server: api, options: { url: `${api.url}/api/bench/auth/`, requests: perTenant() } },
  list: { server: api, options: { url: `${api.url}/api/posts/`, requests: perTenant() } },
  few: { server: api, options: { url: `${api.url}/api/posts/`, requests: perTenant({}, sessions.slice(0, FEW_TENANTS)) } },
  unprepared: { server: apiUnprepared, options: { url: `${apiUnprepared.url}/api/posts/`, requests: perTenant() } },
  shared: { server: apiShared, options: { url: `${apiShared.url}/api/posts/`, requests: perTenant() } },
  metrics: { server: apiMetrics, options: { url: `${apiMetrics.url}/api/posts/`, requests: perTenant() } },
  // Both POSTs rebuild each request with a new id in a header (a request id; for the keyed one
  // also its key), so the load generator pays the same for both. An id in the body would
  // outgrow the Content-Length autocannon computed for it.
  create: {
    server: api,
    options: { url: `${api.url}/api/posts/`, idReplacement: true, requests: withIdHeaders(createPost, ['x-request-id']) },
  },
  keyed: {
    server: api,
    options: {
      url: `${api.url}/api/posts/`,
      idReplacement: true,
      requests: withIdHeaders(createPost, ['x-request-id', 'idempotency-key']),
    },
  },
  keyhost: { server: apiHost, options: { url: `${apiHost.url}/api/posts/`, requests: perTenant() } },
  host: { server: apiHost, options: { url: `${apiHost.url}/api/posts/`, requests: perTenant({}, sessions, 'host') } },
}

interface Sample {
  rps: number
  p50: number
  p99: number
  errors: number
  /** CPU time per request of the server's process and of this one (autocannon), in us. */
  serverUs: number
  clientUs: number
}

async function measure({ server, options }: Target, seconds: number): Promise<Sample> {
  const serverBefore = cpuTimeUs(server.child.pid!)
  const clientBefore = process.cpuUsage()
  const result = await autocannon({ ...options, connections: CONNECTIONS, duration: seconds })
  const client = process.cpuUsage(clientBefore)
  const requests = result.requests.total
  const errors = result.errors + result.timeouts + result.non2xx
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
    serverUs: (cpuTimeUs(server.child.pid!) - serverBefore) / requests,
    clientUs: (client.user + client.system) / requests,
  }
}

console.log(`warming up (${Object.keys(targets).length} targets x 2 s)...`)
for (const target of Object.values(targets)) await measure(target, 2)

const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(targets).map((name) => [name, []]))
for (let round = 1; round <= ROUNDS; round++) {
  // Rotate the order each round too, so no target always runs right after the same one.
  const names = Object.keys(targets)
  const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)]
  for (const name of order) {
    const sample = await measure(targets[name]!, SECONDS)
    samples[name]!.push(sample)
    console.log(
      `  round ${round} ${name.padEnd(10)} ${Math.round(sample.rps).toString().padStart(7)} req/s  p50 ${sample.p50} ms  p99 ${sample.p99} ms` +
        `  CPU/request: server ${sample.serverUs.toFixed(0)} us, load generator ${sample.clientUs.toFixed(0)} us${sample.errors ? `  ${sample.errors} errors` : ''}`,
    )
  }
}

const memory = {
  fixed: await backendMemoryMiB(db.sql, 'bench_fixed'),
  api: await backendMemoryMiB(db.sql, 'bench_api'),
  unprepared: await backendMemoryMiB(db.sql, 'bench_api_unprepared'),
  shared: await backendMemoryMiB(db.sql, 'bench_api_shared'),
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
const summary = Object.fromEntries(
  Object.entries(samples).map(([name, list]) => [
    name,
    {
      rps: median(list.map((s) => s.rps)),
      p50: median(list.map((s) => s.p50)),
      p99: median(list.map((s) => s.p99)),
      serverUs: median(list.map((s) => s.serverUs)),
      clientUs: median(list.map((s) => s.clientUs)),
      errors: list.reduce((n, s) => n + s.errors, 0),
    },
  ]),
)

const labels: Record<string, string> = {
  hello: 'bare Fastify hello-world (ceiling)',
  fixed: 'bare Fastify + postgres.js, fixed schema (ceiling)',
  healthz: 'API: GET /healthz (no auth, no query)',
  auth: 'API: api-key + JWT, no query',
  list: 'API: GET /api/posts/, another tenant each request',
  few: `the same over ${FEW_TENANTS} of the tenants`,
  unprepared: 'the same, DB_PREPARED_STATEMENTS=0',
  shared: 'the same, DB_TENANT_CONNECTIONS=0',
  metrics: 'the same, recording metrics (METRICS_PORT, per tenant)',
  create: 'API: POST /api/posts/, another tenant each request',
  keyed: 'the same with an Idempotency-Key (stored with the post)',
  keyhost: 'API finding tenants by host too: the list, by api key',
  host: 'the same, by host name (no api key, a Bearer token)',
}
// The report: printed, and with --write-docs also written into docs/benchmarks.md.
const report: string[] = []
const print = (line: string) => {
  console.log(line)
  report.push(line)
}
print(
  `\n${TENANTS} tenants x ${POSTS} posts, API LOG_LEVEL=${env.LOG_LEVEL} DB_PREPARED_STATEMENTS=${config.database.preparedStatements} DB_CONNECTION_MAX_LIFETIME_SECONDS=${config.database.connectionMaxLifetimeSeconds}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s, medians; load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}\n`,
)
print('| target | req/s | p50 ms | p99 ms | server CPU us/request | load generator CPU us/request | errors |')
print('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [name, s] of Object.entries(summary)) {
  print(
    `| ${labels[name]} | ${Math.round(s.rps)} | ${s.p50} | ${s.p99} | ${s.serverUs.toFixed(0)} | ${s.clientUs.toFixed(0)} | ${s.errors} |`,
  )
}
// Each ratio twice: of the medians, and the median of each round's own ratio (the two
// targets of a round ran within seconds of each other, so drift between rounds cancels).
const pct = (ratio: number) => `${(100 * ratio).toFixed(0)}%`
function ratios(top: string, bottom: string, field: 'rps' | 'p99' | 'serverUs'): [number, number] {
  const of = summary[top]![field] / summary[bottom]![field]
  const perRound = median(samples[top]!.map((sample, i) => sample[field] / samples[bottom]![i]![field]))
  return [of, perRound]
}
const lines: [string, [number, number], string][] = [
  ['auth / hello', ratios('auth', 'hello', 'rps'), 'target >= 75%'],
  ['list / fixed', ratios('list', 'fixed', 'rps'), 'target >= 85%'],
  ['healthz / hello', ratios('healthz', 'hello', 'rps'), "the API's base cost, for reading auth / hello"],
  ['unprepared / fixed', ratios('unprepared', 'fixed', 'rps'), 'the list without prepared statements'],
  ['shared / fixed', ratios('shared', 'fixed', 'rps'), 'the list on one shared pool, without home connections'],
  ['list / few', ratios('list', 'few', 'rps'), `all tenants against ${FEW_TENANTS} of them`],
  ['list, metrics / list', ratios('metrics', 'list', 'rps'), 'target >= 97%'],
  ['host-resolved / key-resolved list', ratios('host', 'keyhost', 'rps'), 'one API process finding tenants by host too'],
  ['key-resolved, host on / list', ratios('keyhost', 'list', 'rps'), 'what TENANT_RESOLUTION=api-key,host costs a keyed request'],
  ['keyed POST / POST', ratios('keyed', 'create', 'rps'), 'what an Idempotency-Key costs a write'],
  ['fixed / hello', ratios('fixed', 'hello', 'rps'), ''],
]
print('\n| ratio, req/s | of medians | median per round | |')
print('| --- | ---: | ---: | --- |')
for (const [label, [of, perRound], note] of lines) print(`| ${label} | ${pct(of)} | ${pct(perRound)} | ${note} |`)
const p99Lines: [string, [number, number], string][] = [
  ['list p99 / fixed p99', ratios('list', 'fixed', 'p99'), 'target <= 1.5x'],
  ['unprepared p99 / fixed', ratios('unprepared', 'fixed', 'p99'), ''],
  ['metrics CPU / list CPU', ratios('metrics', 'list', 'serverUs'), 'server CPU per request, recording metrics; target <= 1.03x'],
]
for (const [label, [of, perRound], note] of p99Lines) print(`| ${label} | ${of.toFixed(2)}x | ${perRound.toFixed(2)}x | ${note} |`)
print(
  `\nserver memory of each pool after the rounds (RssAnon of its backends): fixed-schema page ${memory.fixed.toFixed(0)} MiB, ` +
    `API ${memory.api.toFixed(0)} MiB, API with DB_PREPARED_STATEMENTS=0 ${memory.unprepared.toFixed(0)} MiB, ` +
    `API with DB_TENANT_CONNECTIONS=0 ${memory.shared.toFixed(0)} MiB`,
)

// What a request records, alone: the hook's CPU time in this process, steadier than the
// end-to-end ratio above on a shared machine.
{
  const metrics = createApiMetrics({ services, perTenant: TENANTS })
  const requests = seeded.map((tenant) => ({
    method: 'GET',
    routeOptions: { url: '/api/posts/' },
    tenant: { schemaName: tenant.schemaName },
  }))
  const reply = { statusCode: 200, elapsedTime: 3.5 }
  const observe = (n: number) => {
    for (let i = 0; i < n; i++) metrics.observeRequest(requests[i % requests.length] as never, reply as never)
  }
  observe(200_000)
  const calls = 2_000_000
  const before = process.cpuUsage()
  observe(calls)
  const used = process.cpuUsage(before)
  const ns = ((used.user + used.system) * 1000) / calls
  print(
    `\nmetrics recorded per request (per-tenant series on): ${ns.toFixed(0)} ns of CPU, ${((100 * ns) / 1000 / summary.list!.serverUs).toFixed(2)}% of the list's server CPU per request`,
  )
}
// The same tenants cold, warm and under a Zipf load, against their rows in one shared table.
await stopServerProcesses()
{
  const copied = await fillSharedTable(
    cluster.url,
    seeded.map((t) => ({ id: t.tenantId, schemaName: t.schemaName })),
  )
  console.log(`\nthe API against one shared table keyed by tenant_id (${copied} posts copied), cold, warm and Zipf:`)
  const loads = await measureTenantLoads({
    url: cluster.url,
    tenants: seeded.map((t) => ({ id: t.tenantId, schemaName: t.schemaName, key: t.key, userId: t.userId })),
    jwtSecret: JWT_SECRET,
    env,
    connections: CONNECTIONS,
    seconds: SECONDS,
    rounds: ROUNDS,
    print: console.log,
  })
  print(
    `\nThe API against the same rows in one shared table keyed by tenant_id (a bare Fastify + postgres.js server), ` +
      `cold on fresh processes, warm and Zipf in ${ROUNDS} alternating rounds of ${SECONDS} s (medians); load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}:\n`,
  )
  print(tenantLoadsReport([loads]))
}
if (values['write-docs']) await writeDocsSection('api', report.join('\n'))

await stopServerProcesses()
await db.close()
await cluster.stop()
