/**
 * How should a tenant query reach its schema? Measures, in one run and alternating so the
 * machine's drift hits every variant alike, a 20-row page of posts from a random tenant:
 *
 *   fixed          one schema, no tenancy, prepared (the ceiling)
 *   unprepared     "tenant".posts, postgres.js with prepare: false (DB_PREPARED_STATEMENTS=0)
 *   prepared       "tenant".posts, prepared: one statement per tenant per connection, kept
 *                  as long as the connection lives (core's shared pool, DB_TENANT_CONNECTIONS=0,
 *                  whose connections live DB_CONNECTION_MAX_LIFETIME_SECONDS)
 *   recycled       the same, each connection replaced after --lifetime seconds (max_lifetime)
 *   affine         "tenant".posts, prepared, through core's tenant connections (the API's
 *                  default): POOL single-connection pools, each the home of a tenth of the
 *                  tenants; a query whose home has --depth queries waiting goes to the least busy
 *   affine_unprepared  the same with prepare: false (DB_PREPARED_STATEMENTS=0)
 *   search_path    one unqualified prepared statement for every tenant, after
 *                  set_config('search_path', ..., true) in the same transaction (pipelined)
 *
 * Each variant is first brought to its steady state (each server connection serves every
 * tenant it may serve once), then measured. Prints queries/s, the ratio to `fixed`, and the
 * private memory (RssAnon) of each variant's server backends right after its last round
 * (prepared statements, plans and catalog caches live there).
 *
 * The server runs with --shared-buffers (default 1GB, a quarter of a small production
 * server's memory): a tenant's 20 posts fill one heap page and one index page of its own, so
 * 10,000 tenants need 240 MB of buffers where one fixed schema needs three pages, and
 * PostgreSQL's 128MB default would measure buffer misses, not the query path. Pass 128MB to see them.
 *
 *   pnpm bench:queries [--tenants 1000] [--seconds 3] [--rounds 3] [--callers 64] [--lifetime 5] [--depth 16] [--shared-buffers 1GB]
 */
import { mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { createTenantConnections, startEmbeddedCluster } from '@tenantbase/core'
import { freePort } from '@tenantbase/core/testing'
import { backendMemoryMiB } from './backend-memory.js'
import { WRITE_DOCS_OPTION, writeDocsSection } from './docs-section.js'

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    callers: { type: 'string', default: '64' },
    lifetime: { type: 'string', default: '5' },
    depth: { type: 'string', default: '16' },
    'shared-buffers': { type: 'string', default: '1GB' },
    ...WRITE_DOCS_OPTION,
  },
})
const TENANTS = Number(values.tenants)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CALLERS = Number(values.callers)
const LIFETIME = Number(values.lifetime)
const DEPTH = Number(values.depth)
const POOL = 10

const cluster = await startEmbeddedCluster({
  dataDir: path.join(await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-')), 'pg'),
  port: await freePort(),
  user: 'postgres',
  password: 'postgres',
  database: 'bench',
  persistent: false,
  settings: { shared_buffers: values['shared-buffers'] },
})
const admin = postgres(cluster.url, { max: 4, onnotice: () => {} })

const schemas = Array.from({ length: TENANTS }, (_, i) => `bench_t${i}`)
console.log(`seeding ${TENANTS} tenant schemas with 20 posts each...`)
const ddl = `create table posts (
  id bigint generated always as identity primary key, author_id bigint not null,
  title text not null, body text not null,
  created_at timestamptz not null default now(), updated_at timestamptz not null default now());
insert into posts (author_id, title, body) select 1, 'post ' || g, repeat('x', 200) from generate_series(1, 20) g;`
await admin.unsafe(`create schema bench_fixed; set search_path to bench_fixed; ${ddl} reset search_path;`).simple()
for (let i = 0; i < schemas.length; i += 50) {
  const batch = schemas.slice(i, i + 50)
  await admin.unsafe(batch.map((s) => `create schema ${s}; set search_path to ${s}; ${ddl}`).join('\n') + ' reset search_path;').simple()
}
await admin`vacuum analyze`

const page = (sql: postgres.Sql, s: string) =>
  sql`select id, title, body, author_id, created_at, updated_at from ${sql(s)}.posts order by id desc limit 20`
const options = (name: string, extra: postgres.Options<{}> = {}) => ({
  max: POOL,
  onnotice: () => {},
  connection: { application_name: `bench_${name}` },
  ...extra,
})

/** One pool per variant (affine: POOL pools of one connection), and how a query picks one. */
interface Variant {
  readonly pools: postgres.Sql[]
  run(tenant: number, sql?: postgres.Sql): Promise<unknown>
  /** Whether the warm-up gives each connection every tenant it may serve (not for `recycled`). */
  readonly warm?: (pool: number) => number[]
}
const everyTenant = () => schemas.map((_, i) => i)
const fixedSql = postgres(cluster.url, options('fixed'))
const unpreparedSql = postgres(cluster.url, options('unprepared', { prepare: false }))
const preparedSql = postgres(cluster.url, options('prepared'))
const recycledSql = postgres(cluster.url, options('recycled', { max_lifetime: LIFETIME }))
const affineSql: postgres.Sql[] = []
const affine = createTenantConnections(
  POOL,
  (onclose) => affineSql[affineSql.push(postgres(cluster.url, options('affine', { max: 1, onclose }))) - 1]!,
  DEPTH,
)
const affineUnpreparedSql: postgres.Sql[] = []
const affineUnprepared = createTenantConnections(
  POOL,
  (onclose) =>
    affineUnpreparedSql[
      affineUnpreparedSql.push(postgres(cluster.url, options('affine_unprepared', { max: 1, prepare: false, onclose }))) - 1
    ]!,
  DEPTH,
)
const homeOf = (shard: number) => schemas.flatMap((_, t) => (t % POOL === shard ? [t] : []))
const searchPathSql = postgres(cluster.url, options('search_path'))

const variants: Record<string, Variant> = {
  fixed: { pools: [fixedSql], run: (_, sql = fixedSql) => page(sql, 'bench_fixed'), warm: () => [0] },
  unprepared: { pools: [unpreparedSql], run: (t, sql = unpreparedSql) => page(sql, schemas[t]!), warm: everyTenant },
  prepared: { pools: [preparedSql], run: (t, sql = preparedSql) => page(sql, schemas[t]!), warm: everyTenant },
  recycled: { pools: [recycledSql], run: (t) => page(recycledSql, schemas[t]!) },
  affine: {
    pools: affineSql,
    warm: homeOf,
    run: (t, sql) => (sql ? page(sql, schemas[t]!) : affine.use(t, (home) => page(home, schemas[t]!))),
  },
  affine_unprepared: {
    pools: affineUnpreparedSql,
    warm: homeOf,
    run: (t, sql) => (sql ? page(sql, schemas[t]!) : affineUnprepared.use(t, (home) => page(home, schemas[t]!))),
  },
  search_path: {
    pools: [searchPathSql],
    warm: everyTenant,
    run: (t, reserved) => {
      const inTransaction = (tx: postgres.Sql) => [
        tx`select set_config('search_path', quote_ident(${schemas[t]!}), true)`,
        tx`select id, title, body, author_id, created_at, updated_at from posts order by id desc limit 20`,
      ]
      // A reserved connection (the warm-up) has no begin(): the same statements, spelled out.
      if (reserved) return Promise.all([reserved`begin`, ...inTransaction(reserved), reserved`commit`])
      return searchPathSql.begin(inTransaction)
    },
  },
}

/**
 * Brings a variant to its steady state: every server connection has served every tenant it
 * may serve (a few minutes of real traffic), so its memory is what a long-running server's
 * is, not what a few seconds left. `recycled` is left alone: it forgets every few seconds.
 */
async function warm(name: string): Promise<void> {
  const { pools, warm, run } = variants[name]!
  if (!warm) return
  await Promise.all(
    pools.map(async (sql, index) => {
      const tenants = warm(index)
      const connections = await Promise.all(Array.from({ length: pools.length === 1 ? POOL : 1 }, () => sql.reserve()))
      // A transaction owns its connection: those of search_path go one after another.
      const depth = name === 'search_path' ? 1 : 16
      await Promise.all(
        connections.map(async (connection) => {
          let next = 0
          await Promise.all(
            Array.from({ length: depth }, async () => {
              while (next < tenants.length) await run(tenants[next++]!, connection)
            }),
          )
          connection.release()
        }),
      )
    }),
  )
}

async function measure(name: string): Promise<number> {
  const { run } = variants[name]!
  const deadline = performance.now() + SECONDS * 1000
  let done = 0
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < deadline) {
        await run(Math.floor(Math.random() * schemas.length))
        done++
      }
    }),
  )
  return done / SECONDS
}

const results: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((n) => [n, []]))
const memory: Record<string, number> = {}
console.log('warming every connection up with every tenant it may serve...')
for (const name of Object.keys(variants)) {
  const start = performance.now()
  await warm(name)
  await measure(name)
  console.log(`  ${name}: ${((performance.now() - start) / 1000).toFixed(0)} s`)
}
const detoursBefore = affine.detours()
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of Object.keys(variants)) {
    results[name]!.push(await measure(name))
    if (round === ROUNDS) memory[name] = await backendMemoryMiB(admin, 'bench_' + name)
  }
  console.log(`round ${round}/${ROUNDS} done`)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ceiling = median(results.fixed!)
const affineQueries = median(results.affine!) * SECONDS * ROUNDS
const report: string[] = []
const print = (line: string) => {
  console.log(line)
  report.push(line)
}
print(
  `\n${TENANTS} tenants, pool ${POOL}, ${CALLERS} callers, ${ROUNDS} rounds of ${SECONDS}s (median), recycled every ${LIFETIME} s, shared_buffers ${values['shared-buffers']}, ` +
    `affine detour at ${DEPTH} waiting (${((100 * (affine.detours() - detoursBefore)) / affineQueries).toFixed(1)}% of its queries); load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}\n`,
)
print('| variant | queries/s | vs fixed | server memory of the pool (MiB) |')
print('| --- | ---: | ---: | ---: |')
for (const name of Object.keys(variants)) {
  const qps = median(results[name]!)
  print(`| ${name} | ${qps.toFixed(0)} | ${(qps / ceiling).toFixed(2)} | ${memory[name]!.toFixed(1)} |`)
}
if (values['write-docs']) await writeDocsSection('queries', report.join('\n'))

await Promise.all(Object.values(variants).flatMap((v) => v.pools.map((sql) => sql.end())))
await admin.end()
await cluster.stop()
