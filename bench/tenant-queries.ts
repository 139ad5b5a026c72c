/**
 * How should a tenant query name its schema? Measures, in one run and alternating so the
 * machine's drift hits every variant alike, a 20-row page of posts from a random tenant:
 *
 *   fixed          one schema, no tenancy (the ceiling)
 *   qualified      "tenant".posts, unprepared
 *   prepared       "tenant".posts, prepared: one statement per tenant per connection
 *   bounded        "tenant".posts, each connection prepares its first 200 statements and
 *                  sends the rest unnamed (core with DB_PREPARED_STATEMENTS=200)
 *   search_path    set_config('search_path', ..., true) inside a transaction
 *
 * Prints queries/s, the ratio to `fixed`, and the private memory of the pool's server
 * backends afterwards (prepared statements live there).
 *
 *   pnpm bench:queries [--tenants 1000] [--seconds 3] [--rounds 3] [--callers 64]
 */
import { readFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { startEmbeddedCluster } from '../packages/core/dist/index.js'

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    callers: { type: 'string', default: '64' },
  },
})
const TENANTS = Number(values.tenants)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CALLERS = Number(values.callers)
const POOL = 10

const cluster = await startEmbeddedCluster({
  dataDir: path.join(await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-')), 'pg'),
  port: 54390,
  user: 'postgres',
  password: 'postgres',
  database: 'bench',
  persistent: false,
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
  await admin
    .unsafe(batch.map((s) => `create schema ${s}; set search_path to ${s}; ${ddl}`).join('\n') + ' reset search_path;')
    .simple()
}
await admin`vacuum analyze`

type Runner = (sql: postgres.Sql, schema: string) => Promise<unknown>
const variants: Record<string, { prepare: boolean | number; run: Runner }> = {
  fixed: { prepare: true, run: (sql) => sql`select id, title, body, author_id, created_at, updated_at from bench_fixed.posts order by id desc limit 20` },
  qualified: { prepare: false, run: (sql, s) => sql`select id, title, body, author_id, created_at, updated_at from ${sql(s)}.posts order by id desc limit 20` },
  prepared: { prepare: true, run: (sql, s) => sql`select id, title, body, author_id, created_at, updated_at from ${sql(s)}.posts order by id desc limit 20` },
  // A number is the patched driver's bound (patches/postgres@3.4.9.patch, core's createPool).
  bounded: {
    prepare: 200,
    run: (sql, s) => sql`select id, title, body, author_id, created_at, updated_at from ${sql(s)}.posts order by id desc limit 20`,
  },
  search_path: {
    prepare: false,
    run: (sql, s) =>
      sql.begin(async (tx) => {
        await tx`select set_config('search_path', quote_ident(${s}), true)`
        return tx`select id, title, body, author_id, created_at, updated_at from posts order by id desc limit 20`
      }),
  },
}

const pools = Object.fromEntries(
  Object.entries(variants).map(([name, v]) => [
    name,
    postgres(cluster.url, { max: POOL, prepare: v.prepare as boolean, connection: { application_name: `bench_${name}` } }),
  ]),
)

async function measure(name: string): Promise<number> {
  const sql = pools[name]!
  const { run } = variants[name]!
  const deadline = performance.now() + SECONDS * 1000
  let done = 0
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < deadline) {
        await run(sql, schemas[Math.floor(Math.random() * schemas.length)]!)
        done++
      }
    }),
  )
  return done / SECONDS
}

async function backendMemoryMiB(name: string): Promise<number> {
  const rows = await admin`select pid from pg_stat_activity where application_name = ${'bench_' + name}`
  let kib = 0
  for (const { pid } of rows) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    kib += Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return kib / 1024
}

const results: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((n) => [n, []]))
for (const name of Object.keys(variants)) await measure(name) // warm up every pool and cache
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of Object.keys(variants)) results[name]!.push(await measure(name))
  console.log(`round ${round}/${ROUNDS} done`)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ceiling = median(results.fixed!)
console.log(`\n${TENANTS} tenants, pool ${POOL}, ${CALLERS} callers, ${ROUNDS} rounds of ${SECONDS}s (median)`)
console.log('variant       queries/s   vs fixed   backend private memory (MiB, whole pool)')
for (const name of Object.keys(variants)) {
  const qps = median(results[name]!)
  const mem = await backendMemoryMiB(name)
  console.log(`${name.padEnd(12)} ${qps.toFixed(0).padStart(10)} ${(qps / ceiling).toFixed(2).padStart(10)} ${mem.toFixed(1).padStart(12)}`)
}

await Promise.all(Object.values(pools).map((sql) => sql.end()))
await admin.end()
await cluster.stop()
