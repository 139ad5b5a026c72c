/**
 * Where a tenant's first request spends its time on the database: on one fresh server
 * connection, the API's page query (prepared, as postgres.js runs it) for a sample of tenants,
 * each tenant's first execution timed against its second, then the same split by
 * `EXPLAIN (ANALYZE, BUFFERS)` (planning and execution, catalog buffers), the backend's
 * cache memory per tenant (pg_backend_memory_contexts), and warm queries cycling over more and
 * more tenants on one connection (the virtual file descriptor cache, `max_files_per_process`,
 * holds a few files per tenant).
 *
 * It reads a grown database: `pnpm bench:scale --keep` (with BENCH_DATABASE_URL) prints the
 * URL to pass here.
 *
 *   DATABASE_URL=<kept bench:scale database> node --import tsx bench/first-query.ts [--sample 300]
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import postgres from 'postgres'

const { values } = parseArgs({ options: { sample: { type: 'string', default: '300' } } })
const SAMPLE = Number(values.sample)
const url = process.env.DATABASE_URL
if (!url || !(SAMPLE >= 10)) {
  console.error('usage: DATABASE_URL=<a database grown by bench:scale --keep> node --import tsx bench/first-query.ts [--sample 300]')
  process.exit(2)
}

const admin = postgres(url, { max: 1, onnotice: () => {} })
const [{ tenants }] = await admin<{ tenants: number }[]>`select count(*)::int as tenants from public.tenants`
const settings = await admin<{ name: string; setting: string }[]>`
  select name, setting from pg_settings where name in ('max_files_per_process', 'shared_buffers', 'server_version')`
console.log(
  `${tenants} tenants; ${settings.map((s) => `${s.name} ${s.setting}`).join(', ')}; load ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
)
const sampled = (n: number) =>
  admin<{ schemaName: string }[]>`select schema_name as "schemaName" from public.tenants order by random() limit ${n}`.then((rows) =>
    rows.map((r) => r.schemaName),
  )
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const page = (sql: postgres.Sql, schema: string) =>
  sql`select id, title, body, author_id, created_at, updated_at from ${sql(schema)}.posts
      where id < ${Number.MAX_SAFE_INTEGER} order by id desc limit 21`

/** The backend's memory contexts that grow with the tenants it touched, in bytes. */
async function cacheBytes(sql: postgres.Sql): Promise<{ cache: number; plans: number; total: number }> {
  const [row] = await sql<{ cache: string; plans: string; total: string }[]>`
    select coalesce(sum(total_bytes) filter (where name = 'CacheMemoryContext' or parent = 'CacheMemoryContext'), 0)::text as cache,
      coalesce(sum(total_bytes) filter (where name like 'CachedPlan%'), 0)::text as plans,
      sum(total_bytes)::text as total
    from pg_backend_memory_contexts`
  return { cache: Number(row!.cache), plans: Number(row!.plans), total: Number(row!.total) }
}

// 1. First and second execution of each sampled tenant's page on one fresh connection; then
// the same with the parameter typed (bigint), which lets postgres.js send Parse, Describe,
// Bind and Execute at once instead of waiting for the description of a new statement.
for (const typed of [false, true]) {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql`select 1`
  const before = await cacheBytes(sql)
  const first: number[] = []
  const second: number[] = []
  const query = (schema: string) =>
    typed
      ? sql`select id, title, body, author_id, created_at, updated_at from ${sql(schema)}.posts
            where id < ${sql.typed(Number.MAX_SAFE_INTEGER, 20)} order by id desc limit 21`
      : page(sql, schema)
  for (const schema of await sampled(SAMPLE)) {
    let start = performance.now()
    await query(schema)
    first.push(performance.now() - start)
    start = performance.now()
    await query(schema)
    second.push(performance.now() - start)
  }
  const after = await cacheBytes(sql)
  console.log(
    `one fresh connection, ${SAMPLE} tenants' page query (prepared${typed ? ', its parameter typed' : ''}): first execution median ${median(first).toFixed(2)} ms, ` +
      `second ${median(second).toFixed(2)} ms; per tenant the backend kept ${((after.cache - before.cache) / SAMPLE / 1024).toFixed(1)} KiB of catalog caches ` +
      `and ${((after.plans - before.plans) / SAMPLE / 1024).toFixed(1)} KiB of cached plans (${((after.total - before.total) / SAMPLE / 1024).toFixed(1)} KiB in all)`,
  )
  await sql.end()
}

// 2. The same first use under EXPLAIN: planning against execution, and the buffers each read.
{
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql`select 1`
  const planning: number[] = []
  const execution: number[] = []
  const wall: number[] = []
  const planningBuffers: number[] = []
  const warmPlanning: number[] = []
  for (const schema of await sampled(Math.min(SAMPLE, 100))) {
    const explain = async () => {
      const start = performance.now()
      const rows = await sql.unsafe(
        `explain (analyze, buffers, format json) select id, title, body, author_id, created_at, updated_at from "${schema}".posts
         where id < 9007199254740991 order by id desc limit 21`,
      )
      const ms = performance.now() - start
      return { ms, plan: (rows[0] as { 'QUERY PLAN': Record<string, any>[] })['QUERY PLAN'][0]! }
    }
    const cold = await explain()
    const warm = await explain()
    planning.push(cold.plan['Planning Time'])
    execution.push(cold.plan['Execution Time'])
    wall.push(cold.ms)
    const buffers = cold.plan.Planning ?? {}
    planningBuffers.push((buffers['Shared Hit Blocks'] ?? 0) + (buffers['Shared Read Blocks'] ?? 0))
    warmPlanning.push(warm.plan['Planning Time'])
  }
  console.log(
    `EXPLAIN (ANALYZE, BUFFERS) of a tenant's first query on one connection (medians of ${planning.length}): ` +
      `${median(wall).toFixed(2)} ms at the client, of it planning ${median(planning).toFixed(2)} ms (${median(planningBuffers)} buffers, the catalog's) ` +
      `and execution ${median(execution).toFixed(2)} ms; the rest (parse analysis, opening the relation, the round trip) ` +
      `${(median(wall) - median(planning) - median(execution)).toFixed(2)} ms; planning the same query again ${median(warmPlanning).toFixed(2)} ms`,
  )
  await sql.end()
}

// 3. Warm queries over k tenants, each already served on that connection (the file descriptor
// cache holds max_files_per_process files, a tenant's page reads two), each round timed right
// after the same number of queries over 100 tenants on another connection: the ratio.
{
  const QUERIES = 2000
  const ROUNDS = 5
  const opened: postgres.Sql[] = []
  const warmConnection = async (k: number) => {
    const sql = postgres(url, { max: 1, onnotice: () => {} })
    opened.push(sql)
    const schemas = await sampled(k)
    for (const schema of schemas) await page(sql, schema)
    return async () => {
      const start = performance.now()
      for (let i = 0; i < QUERIES; i++) await page(sql, schemas[i % k]!)
      return (1000 * (performance.now() - start)) / QUERIES
    }
  }
  const base = await warmConnection(100)
  for (const k of [300, 1000, 3000].filter((k) => k <= tenants)) {
    const over = await warmConnection(k)
    const ratios: number[] = []
    const us: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const b = await base()
      const o = await over()
      ratios.push(o / b)
      us.push(o)
    }
    console.log(
      `warm over ${k} tenants on one connection, each served before: ${median(us).toFixed(0)} us per query, ` +
        `${median(ratios).toFixed(2)}x the same over 100 tenants (median of ${ROUNDS} alternating rounds)`,
    )
  }
  await Promise.all(opened.map((sql) => sql.end()))
}
await admin.end()
