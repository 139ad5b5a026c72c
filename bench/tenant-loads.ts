/**
 * Many tenants, cold, warm and skewed, against the design users would pick instead: the same
 * tenants' posts in ONE shared table keyed by an indexed `tenant_id`, served by a bare
 * Fastify + postgres.js server (api-servers.mjs `shared-table`). bench:api and bench:scale
 * both run it over the tenants they made, each target in a process of its own:
 *
 *   cold    each tenant's first request on a fresh process (every tenant once, in a random
 *           order, CONNECTIONS at a time; a random sample of `coldTenants` where there are more)
 *   warm    a random tenant each request, after every tenant was served once
 *   zipf    a tenant drawn from a Zipf distribution (s = 1) over all tenants, the most
 *           requested ones at random places of the registry
 *
 * The API is the real one (api-key + JWT, home connections); the shared-table server takes
 * the tenant id from a header and checks nothing, so it is the design's ceiling. Cold runs
 * once per process (shared table, then API); warm and zipf alternate, round by round. Each
 * target's pool is named (application_name) so its server backends' memory is summed.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import postgres from 'postgres'
import { backendMemoryMiB, backendPids, cpuTimeUs } from './backend-memory.js'
import { startServerProcess, stopServerProcess } from './server-processes.js'

const require = createRequire(new URL('../packages/api/package.json', import.meta.url))
const autocannon = require('autocannon') as typeof import('autocannon')

/** One tenant as the loads call it: its registry id, schema, a valid api key and its user. */
export interface LoadTenant {
  readonly id: number
  readonly schemaName: string
  readonly key: string
  readonly userId: number
}

export interface TenantLoadOptions {
  /** The database holding the tenants (its URL as the API's DATABASE_URL). */
  readonly url: string
  readonly tenants: readonly LoadTenant[]
  /** The JWT_SECRET the API processes run with (access tokens are signed here with it). */
  readonly jwtSecret: string
  /** The API processes' environment (DATABASE_URL, JWT_SECRET and the names are set here). */
  readonly env: NodeJS.ProcessEnv
  readonly connections: number
  readonly seconds: number
  readonly rounds: number
  /** At most this many tenants' first requests are timed cold (all of them by default). */
  readonly coldTenants?: number
  /** Printed lines go here (the caller's report). */
  readonly print: (line: string) => void
}

/** One target's figures in one load. */
export interface LoadFigures {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  /** CPU time per request of the target's server process and its backends, in us; of it, the backends'. */
  readonly serverUs: number
  readonly backendsUs: number
}

export interface TenantLoadResult {
  readonly tenants: number
  readonly api: Record<LoadName, LoadFigures>
  readonly sharedTable: Record<LoadName, LoadFigures>
  /** The median per round of api / shared-table req/s (cold: the one round's). */
  readonly ratio: Record<LoadName, number>
  /** MiB of the targets' server backends after cold, and after the warm and Zipf rounds. */
  readonly memoryMiB: { readonly apiCold: number; readonly api: number; readonly sharedTableCold: number; readonly sharedTable: number }
}

export type LoadName = 'cold' | 'warm' | 'zipf'

/** The schema and table of the shared-table design (in the bench's own database). */
export const SHARED_TABLE = 'bench_shared.posts'
const API_APPLICATION = 'bench_loads_api'
const SHARED_APPLICATION = 'bench_loads_shared_table'
/** Tenants copied into the shared table per statement (each statement opens that many tenant tables). */
const COPY_BATCH = 500
/** Seconds of warm and Zipf load per target before the timed rounds (the processes' JIT and pools). */
const WARM_UP_SECONDS = 2

/**
 * An access token as the API signs it (HS256 over sub, tid and sid, the login), made here
 * instead of by a login per tenant. Each has a login of its own that was never ended.
 */
export function accessToken(secret: string, userId: number, tenantId: number): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const claims = { sub: String(userId), tid: tenantId, sid: randomUUID(), iat: now, exp: now + 3600 }
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

/**
 * The api key bench:scale's bulk fixture stores for a schema (its SHA-256 is the stored
 * hash): `tb_` and 12 hex digits, then 43 more, all from MD5s of the schema name, so the bench
 * can present the key it never kept. The fixture's SQL computes the same.
 */
export function fixtureApiKey(schemaName: string): string {
  const md5 = (text: string) => createHash('md5').update(text).digest('hex')
  return `tb_${md5(schemaName).slice(0, 12)}_${(md5(`key ${schemaName}`) + md5(`more ${schemaName}`)).slice(0, 43)}`
}
/** {@link fixtureApiKey} in SQL, over a column or expression naming the schema. */
export const fixtureApiKeySql = (schema: string) =>
  `'tb_' || substr(md5(${schema}), 1, 12) || '_' || substr(md5('key ' || ${schema}) || md5('more ' || ${schema}), 1, 43)`

/**
 * Copies every tenant's posts into the shared table (made anew), keyed by the tenant's
 * registry id, with its primary key (tenant_id, id) serving `where tenant_id = $1 order by id
 * desc`. Runs on a connection of its own, replaced between batches (each one opens
 * COPY_BATCH tenants' tables into its backend's caches).
 */
export async function fillSharedTable(url: string, tenants: readonly { id: number; schemaName: string }[]): Promise<number> {
  const sql = postgres(url, { max: 1, prepare: false, max_lifetime: 20, onnotice: () => {} })
  try {
    await sql.unsafe(
      `drop schema if exists bench_shared cascade;
       create schema bench_shared;
       create table ${SHARED_TABLE} (
         tenant_id bigint not null, id bigint not null, author_id bigint not null, title text not null, body text not null,
         created_at timestamptz not null, updated_at timestamptz not null, primary key (tenant_id, id))`,
    )
    for (let from = 0; from < tenants.length; from += COPY_BATCH) {
      const batch = tenants.slice(from, from + COPY_BATCH)
      const selects = batch.map(
        (t) => `select ${Number(t.id)}::bigint, id, author_id, title, body, created_at, updated_at from ${quoted(t.schemaName)}.posts`,
      )
      await sql.unsafe(`insert into ${SHARED_TABLE} ${selects.join('\nunion all\n')}`)
    }
    await sql.unsafe(`vacuum analyze ${SHARED_TABLE}`)
    const [{ rows }] = await sql<{ rows: number }[]>`select count(*)::int as rows from bench_shared.posts`
    return rows
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/**
 * The tenants of a database bench:scale grew and kept that the loads can call: its bulk
 * fixture's (their keys are {@link fixtureApiKey}'s, their user is 1).
 */
export async function keptTenants(sql: postgres.Sql): Promise<LoadTenant[]> {
  const rows = await sql<{ id: number; schemaName: string }[]>`
    select id::int as id, schema_name as "schemaName" from public.tenants where schema_name ~ '^bench_[0-9]+$' order by id`
  return rows.map((t) => ({ ...t, key: fixtureApiKey(t.schemaName), userId: 1 }))
}

/** A schema name as a quoted identifier (the names come from the registry; quoted all the same). */
const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`

/** The URL with an application_name (postgres.js reads it from the query), to find a target's backends. */
export function namedUrl(url: string, applicationName: string): string {
  const named = new URL(url)
  named.searchParams.set('application_name', applicationName)
  return named.toString()
}

export interface Request {
  readonly headers: Record<string, string>
}
type Options = Parameters<typeof autocannon>[0]

/** Ranks 1..n with P(k) proportional to 1/k, as the cumulative distribution to draw from. */
function zipfDraw(n: number): () => number {
  const cumulative = new Float64Array(n)
  let sum = 0
  for (let k = 1; k <= n; k++) cumulative[k - 1] = sum += 1 / k
  return () => {
    const u = Math.random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function shuffled<T>(list: readonly T[]): T[] {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * Runs one load against `server`; its CPU time per request counts the server's process and
 * its pool's backends (those alive at the end: a pool replaces none within a load), which on
 * two cores shared with the load generator says more than req/s alone.
 */
export async function run(
  options: Options,
  server?: { pid: number; sql: postgres.Sql<any>; applicationName: string },
): Promise<LoadFigures> {
  const backends = server ? await backendPids(server.sql, server.applicationName) : []
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + (cpuTimeUs(pid) || 0), 0)
  const before = server ? { process: cpuTimeUs(server.pid), backends: sum(backends) } : undefined
  const started = performance.now()
  const result = await autocannon(options)
  const seconds = (performance.now() - started) / 1000
  const requests = Math.max(1, result.requests.total)
  // Backends the load opened (a fresh pool's) count from zero; a pool replaces none within a load.
  const now = server ? await backendPids(server.sql, server.applicationName) : []
  const processUs = server ? (cpuTimeUs(server.pid) - before!.process) / requests : NaN
  const backendsUs = server ? (sum(now) - before!.backends) / requests : NaN
  return {
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    serverUs: processUs + backendsUs,
    backendsUs,
  }
}

/**
 * Requests handed out by `next`, one call per request. NOTE: drawn per request, not a prebuilt
 * list: autocannon builds a prebuilt list's every request for each of its connections before
 * the first one is sent (tenants times connections builds, in the timed window), and its
 * connections each walk the list from its start, in step. The draw costs the load generator
 * alike for both targets.
 */
export function drawn(url: string, next: () => Request, connections: number, limit: { amount: number } | { duration: number }): Options {
  return {
    url,
    connections,
    ...limit,
    requests: [{ setupRequest: (request) => ({ ...request, headers: next().headers }) }],
  }
}

/** Every request of `list` exactly once, `connections` at a time. */
export function once(url: string, list: readonly Request[], connections: number): Options {
  let next = 0
  return drawn(url, () => list[next++ % list.length]!, Math.min(connections, list.length), { amount: list.length })
}

export async function measureTenantLoads(options: TenantLoadOptions): Promise<TenantLoadResult> {
  const { tenants, connections, seconds, rounds, print } = options
  const n = tenants.length
  const metaSql = postgres(options.url, { max: 1, onnotice: () => {} })
  const startApi = () =>
    startServerProcess('api', [], {
      ...options.env,
      DATABASE_URL: namedUrl(options.url, API_APPLICATION),
      JWT_SECRET: options.jwtSecret,
    })
  const startShared = () => startServerProcess('shared-table', [namedUrl(options.url, SHARED_APPLICATION)], options.env)

  const apiRequests = new Map(
    tenants.map((t) => [
      t.id,
      { headers: { 'api-key': t.key, authorization: `Bearer ${accessToken(options.jwtSecret, t.userId, t.id)}` } } as Request,
    ]),
  )
  const sharedRequests = new Map(tenants.map((t) => [t.id, { headers: { 'tenant-id': String(t.id) } } as Request]))
  const coldOrder = shuffled(tenants).slice(0, Math.min(n, options.coldTenants ?? n))
  const draw = zipfDraw(n)
  const ranked = shuffled(tenants)
  const pick = (map: Map<number, Request>, order: readonly LoadTenant[]) => order.map((t) => map.get(t.id)!)
  const random = (map: Map<number, Request>) => () => map.get(tenants[Math.floor(Math.random() * n)]!.id)!
  const zipf = (map: Map<number, Request>) => () => map.get(ranked[draw()]!.id)!

  const [sharedTable, api] = [await startShared(), await startApi()]
  try {
    const probe = await fetch(`${api.url}/api/posts/`, { headers: apiRequests.get(tenants[0]!.id)!.headers })
    if (probe.status !== 200) throw new Error(`the API's list failed: ${probe.status} ${await probe.text()}`)
    const probeShared = await fetch(`${sharedTable.url}/posts/`, { headers: sharedRequests.get(tenants[0]!.id)!.headers })
    const page = (await probeShared.json()) as { results: unknown[] }
    if (probeShared.status !== 200 || page.results.length === 0) throw new Error(`the shared table's page failed: ${probeShared.status}`)
    const apiServer = { pid: api.child.pid!, sql: metaSql, applicationName: API_APPLICATION }
    const sharedServer = { pid: sharedTable.child.pid!, sql: metaSql, applicationName: SHARED_APPLICATION }
    // Both were just started, and neither has served the cold sample (but the probe's tenant).
    const cold = {
      sharedTable: await run(once(`${sharedTable.url}/posts/`, pick(sharedRequests, coldOrder), connections), sharedServer),
      api: await run(once(`${api.url}/api/posts/`, pick(apiRequests, coldOrder), connections), apiServer),
    }
    const memoryCold = {
      api: await backendMemoryMiB(metaSql, API_APPLICATION),
      sharedTable: await backendMemoryMiB(metaSql, SHARED_APPLICATION),
    }
    print(
      `   cold (first request of ${coldOrder.length} tenants on fresh processes; load ${loadavg()[0]!.toFixed(2)}): ` +
        `shared table ${cold.sharedTable.rps.toFixed(0)} req/s p99 ${cold.sharedTable.p99} ms ${cold.sharedTable.serverUs.toFixed(0)} us CPU/request, ` +
        `API ${cold.api.rps.toFixed(0)} req/s p99 ${cold.api.p99} ms ${cold.api.serverUs.toFixed(0)} us CPU/request`,
    )
    // The rest of the tenants once, so that warm means every tenant was served.
    const served = new Set(coldOrder)
    const rest = tenants.filter((t) => !served.has(t))
    if (rest.length > 0) {
      const started = performance.now()
      await run(once(`${api.url}/api/posts/`, pick(apiRequests, rest), connections))
      await run(once(`${sharedTable.url}/posts/`, pick(sharedRequests, rest), connections))
      print(`   the other ${rest.length} tenants served once in ${((performance.now() - started) / 1000).toFixed(0)} s`)
    }

    const targets: Record<string, { url: string; next: () => Request; server: typeof apiServer }> = {
      'warm shared': { url: `${sharedTable.url}/posts/`, next: random(sharedRequests), server: sharedServer },
      'warm api': { url: `${api.url}/api/posts/`, next: random(apiRequests), server: apiServer },
      'zipf shared': { url: `${sharedTable.url}/posts/`, next: zipf(sharedRequests), server: sharedServer },
      'zipf api': { url: `${api.url}/api/posts/`, next: zipf(apiRequests), server: apiServer },
    }
    const timed = (name: string, duration: number) => {
      const { url, next, server } = targets[name]!
      return run(drawn(url, next, connections, { duration }), server)
    }
    for (const name of Object.keys(targets)) await timed(name, WARM_UP_SECONDS)
    const samples: Record<string, LoadFigures[]> = Object.fromEntries(Object.keys(targets).map((name) => [name, []]))
    for (let round = 1; round <= rounds; round++) {
      const names = Object.keys(targets)
      const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)]
      for (const name of order) {
        const sample = await timed(name, seconds)
        samples[name]!.push(sample)
        print(
          `   round ${round} ${name.padEnd(12)} ${Math.round(sample.rps).toString().padStart(6)} req/s  p50 ${sample.p50} ms  p99 ${sample.p99} ms` +
            `  server CPU ${sample.serverUs.toFixed(0)} us/request (backends ${sample.backendsUs.toFixed(0)})` +
            `${sample.errors ? `  ${sample.errors} errors` : ''}  (load ${loadavg()[0]!.toFixed(2)})`,
        )
      }
    }
    const summary = (name: string): LoadFigures => {
      const list = samples[name]!
      return {
        rps: median(list.map((s) => s.rps)),
        p50: median(list.map((s) => s.p50)),
        p99: median(list.map((s) => s.p99)),
        errors: list.reduce((sum, s) => sum + s.errors, 0),
        serverUs: median(list.map((s) => s.serverUs)),
        backendsUs: median(list.map((s) => s.backendsUs)),
      }
    }
    const perRound = (load: string) => median(samples[`${load} api`]!.map((s, i) => s.rps / samples[`${load} shared`]![i]!.rps))
    return {
      tenants: n,
      api: { cold: cold.api, warm: summary('warm api'), zipf: summary('zipf api') },
      sharedTable: { cold: cold.sharedTable, warm: summary('warm shared'), zipf: summary('zipf shared') },
      ratio: { cold: cold.api.rps / cold.sharedTable.rps, warm: perRound('warm'), zipf: perRound('zipf') },
      memoryMiB: {
        apiCold: memoryCold.api,
        sharedTableCold: memoryCold.sharedTable,
        api: await backendMemoryMiB(metaSql, API_APPLICATION),
        sharedTable: await backendMemoryMiB(metaSql, SHARED_APPLICATION),
      },
    }
  } finally {
    await Promise.all([stopServerProcess(api), stopServerProcess(sharedTable)])
    await metaSql.end({ timeout: 5 })
  }
}

/** The issue's targets, as ratios to the shared table: at which size each is stated. */
const TARGETS: readonly {
  label: string
  size: number
  met: (r: TenantLoadResult) => boolean
  goal: string
  value: (r: TenantLoadResult) => string
}[] = [
  { label: 'warm, random tenant', size: 10_000, goal: '>= 0.90', met: (r) => r.ratio.warm >= 0.9, value: (r) => r.ratio.warm.toFixed(2) },
  { label: 'warm, random tenant', size: 100_000, goal: '>= 0.70', met: (r) => r.ratio.warm >= 0.7, value: (r) => r.ratio.warm.toFixed(2) },
  { label: 'cold, throughput', size: 10_000, goal: '>= 0.33', met: (r) => r.ratio.cold >= 0.33, value: (r) => r.ratio.cold.toFixed(2) },
  { label: 'cold, API p99', size: 10_000, goal: '<= 30 ms', met: (r) => r.api.cold.p99 <= 30, value: (r) => `${r.api.cold.p99} ms` },
  { label: 'Zipf (s = 1)', size: 100_000, goal: '>= 0.80', met: (r) => r.ratio.zipf >= 0.8, value: (r) => r.ratio.zipf.toFixed(2) },
]

const cpuSplit = (f: LoadFigures) => `${(f.serverUs - f.backendsUs).toFixed(0)} + ${f.backendsUs.toFixed(0)}`

/** The three loads' table (one row per size and load), the ratios, and each target met or not at its size. */
export function tenantLoadsReport(results: readonly TenantLoadResult[]): string {
  const count = (n: number) => n.toLocaleString('en-US')
  const lines = [
    '| tenants | load | shared table: req/s, p50, p99 | API: req/s, p50, p99 | API / shared table, req/s | server CPU us/request, process + backends: shared table, API | server memory of the pools: shared table, API |',
    '| ---: | --- | --- | --- | ---: | --- | --- |',
  ]
  for (const r of results) {
    for (const load of ['cold', 'warm', 'zipf'] as const) {
      const s = r.sharedTable[load]
      const a = r.api[load]
      const memory =
        load === 'cold'
          ? `${r.memoryMiB.sharedTableCold.toFixed(0)} MiB, ${r.memoryMiB.apiCold.toFixed(0)} MiB`
          : `${r.memoryMiB.sharedTable.toFixed(0)} MiB, ${r.memoryMiB.api.toFixed(0)} MiB`
      const errors = s.errors + a.errors ? ` (${s.errors + a.errors} errors)` : ''
      lines.push(
        `| ${count(r.tenants)} | ${load === 'zipf' ? 'Zipf s = 1' : load} | ${s.rps.toFixed(0)}, ${s.p50} ms, ${s.p99} ms | ` +
          `${a.rps.toFixed(0)}, ${a.p50} ms, ${a.p99} ms${errors} | ${r.ratio[load].toFixed(2)} | ${cpuSplit(s)}, ${cpuSplit(a)} | ${memory} |`,
      )
    }
  }
  lines.push('', '| target (API / shared table) | tenants | measured | goal | |', '| --- | ---: | ---: | --- | --- |')
  for (const target of TARGETS) {
    const at = results.find((r) => r.tenants >= target.size * 0.9 && r.tenants <= target.size * 1.1)
    lines.push(
      at
        ? `| ${target.label} | ${count(target.size)} | ${target.value(at)} | ${target.goal} | ${target.met(at) ? 'met' : '**not met**'} |`
        : `| ${target.label} | ${count(target.size)} | | ${target.goal} | not measured in this run |`,
    )
  }
  return lines.join('\n')
}
