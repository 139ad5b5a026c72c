/**
 * The scale curve: what each tenant operation costs as one database grows to 1,000, 10,000
 * and 100,000 tenants. At each size it prints tenant creation p50/p95 (alone, and with 4
 * creators at once), a two-statement migration of every tenant, a no-op `migrate`,
 * `status`, `doctor`, `list --json`, deleting one tenant, the database's size, a new
 * connection's first page, and a random
 * tenant's 20-post page per second, on first visits and warm, beside the same over 10 of the
 * tenants (measured alternately in the same run), with the pages' server memory. Then, at
 * each size, the API over HTTP against the same rows in one shared table keyed by tenant_id
 * (bench/tenant-loads.ts): cold, warm and Zipf loads. Then the README's markdown table,
 * the loads' table with the targets met or not, and docs/scale.svg.
 *
 * What is timed goes through core's real paths: creation is `createTenant`, every command is
 * a whole `tenantctl` process (node start-up included, as an operator or CI sees it), the
 * page is core's `listPosts`. The bulk of the tenants is a fixture: each schema made with
 * the tenant migrations' own statements, its ledger, a user and 20 posts, with its registry
 * row and a key, in batches of simple queries. Sizes are cumulative: one database grows.
 *
 *   pnpm bench:scale [--sizes 1000,10000,100000] [--svg docs/scale.svg] [--seconds 3] [--rounds 3] [--shared-buffers 4GB]
 *                    [--cold-tenants 10000] [--keep]
 *
 * The bulk fixture's api keys are real keys (bench/tenant-loads.ts `fixtureApiKey`), so the
 * loads go through the API's own key lookup; `--cold-tenants` caps how many tenants' first
 * requests are timed cold (the rest are then served once before the warm rounds).
 *
 * The embedded server runs with --shared-buffers (default 4GB, as a server sized for
 * 100,000 tenants would: their pages alone are 1.6 GB, the catalog 9 GB); PostgreSQL's
 * 128MB default measures buffer misses, not the tenant count.
 *
 * Targets at 100,000 tenants: creation p95 <= 50 ms alone and <= 100 ms with 4 creators,
 * no-op migrate and status <= 3 s, doctor <= 30 s, the two-statement migration of all
 * <= 5 minutes, the page >= 0.8 of the 10-tenant figure.
 *
 * Runs on a throwaway embedded PostgreSQL (or in a new database of BENCH_DATABASE_URL's
 * server) with a copy of core's migrations plus one benchmark-only migration per size.
 * `--keep` (with BENCH_DATABASE_URL) leaves that database in place and prints its URL, to
 * profile a command against the grown database afterwards.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, totalmem, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import {
  DEFAULT_MIGRATIONS_DIR,
  createPool,
  createServices,
  createTenantConnections,
  latestState,
  loadDeployment,
  readModuleMigrations,
  statementsOf,
  type Services,
} from '@tenantbase/core'
import { backendMemoryMiB } from './backend-memory.js'
import { openBenchServer } from './bench-server.js'
import { WRITE_DOCS_OPTION, writeDocsSection } from './docs-section.js'
import { markdownTable, ms, perTenantTable, recommendedApiSettings, scaleChart, type PerTenantRow, type ScaleRow } from './scale-report.js'
import {
  fillSharedTable,
  fixtureApiKey,
  fixtureApiKeySql,
  measureTenantLoads,
  tenantLoadsReport,
  type TenantLoadResult,
} from './tenant-loads.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    svg: { type: 'string', default: fileURLToPath(new URL('../docs/scale.svg', import.meta.url)) },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    'shared-buffers': { type: 'string', default: '4GB' },
    'cold-tenants': { type: 'string', default: '10000' },
    ...WRITE_DOCS_OPTION,
  },
})
const SIZES = values.sizes.split(',').map((s) => Number(s.trim()))
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
if (SIZES.some((n, i) => !Number.isInteger(n) || n < 40 || (i > 0 && n <= SIZES[i - 1]!)) || !(SECONDS > 0) || !(ROUNDS >= 1)) {
  console.error(
    'usage: pnpm bench:scale [--sizes 1000,10000,100000] (increasing, each >= 40) [--svg FILE] [--seconds S] [--rounds R] [--shared-buffers SIZE] [--cold-tenants N] [--keep] [--write-docs]',
  )
  process.exit(2)
}
if (values.keep && !process.env.BENCH_DATABASE_URL) {
  console.error('--keep needs BENCH_DATABASE_URL: the embedded cluster is removed with its folder')
  process.exit(2)
}
const CLI = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url))
/** Timed creations per size, alone and with 4 creators (each). */
const samplesAt = (size: number) => Math.min(200, Math.floor(size / 10))
const CREATORS = 4
const PAGE_CALLERS = 64
const PAGE_POOL = 10
/** Fresh connections timed at each size (their median is printed). */
const NEW_CONNECTIONS = 5
const FILL_BATCH = 50
const FILL_CONNECTIONS = 3
const FILL_LIFETIME_SECONDS = 20
/** The loads against the shared table: autocannon's connections, and the API's JWT_SECRET. */
const LOAD_CONNECTIONS = 32
const LOAD_JWT_SECRET = 'bench-scale-secret-that-is-at-least-32-bytes'
/** Tenants whose first request is timed cold at each size (a random sample where there are more). */
const COLD_TENANTS = Number(values['cold-tenants'])

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
const sortedTimes = (times: number[]) => [...times].sort((a, b) => a - b)
const load = () => loadavg()[0]!.toFixed(2)
const loads: number[] = []

/** Runs the built cli with the benchmark's database; returns its wall time and output. */
function tenantctl(args: string[]): Promise<{ code: number | null; ms: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...cliEnv, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const stdout: string[] = []
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, ms: performance.now() - start, stdout: stdout.join(''), stderr }))
  })
}

let failed = false
/** Runs a cli command, prints its time and last line, and marks the run failed unless it exits `expect`. */
async function timedCommand(label: string, args: string[], expect = 0): Promise<{ ms: number; stdout: string }> {
  const run = await tenantctl(args)
  const last = args.includes('--json') ? `${run.stdout.length} bytes of JSON` : (run.stdout.trim().split('\n').at(-1) ?? '')
  console.log(`   ${label.padEnd(26)} ${ms(run.ms).padStart(9)}   (exit ${run.code}; ${last.slice(0, 110)}; load ${load()})`)
  if (run.code !== expect) {
    failed = true
    console.log(`   FAILED: ${run.stderr.trim().slice(0, 2000)}`)
  }
  return run
}

const work = await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-scale-'))
const server = await openBenchServer(work, values['shared-buffers'])
const given = server.given
const serverUrl = server.url
const dbName = `tenantbase_bench_${randomBytes(4).toString('hex')}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin`create database ${admin(dbName)}`
const url = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString()
const migrationsDir = path.join(work, 'migrations')
const cliEnv = { DATABASE_URL: url, TENANTCTL_MIGRATIONS_DIR: migrationsDir, TENANTCTL_ACTOR: 'bench-scale' }

const sql = createPool(url, { max: PAGE_POOL })
// The API's defaults: the tenants' pages on PAGE_POOL home connections (DB_TENANT_CONNECTIONS).
const PAGES_APPLICATION = 'bench_scale_pages'
const tenantConnections = createTenantConnections(PAGE_POOL, (onClose) =>
  createPool(url, { max: 1, onClose, applicationName: PAGES_APPLICATION }),
)
// The fixture's connections are replaced every FILL_LIFETIME_SECONDS: each insert into a
// tenant's posts leaves a cached foreign-key check plan in its backend, and the backend walks
// all of them on every catalog change (each table the fixture creates), so one long-lived
// connection's fill slows with the tenants it has filled (21 ms a tenant at 10,000, 130 at 40,000).
const fill = postgres(url, { max: FILL_CONNECTIONS, onnotice: () => {}, prepare: false, max_lifetime: FILL_LIFETIME_SECONDS })
const rows: ScaleRow[] = []
const loadResults: TenantLoadResult[] = []
const perTenantRows: PerTenantRow[] = []
/** The api keys of the tenants createTenant made (the bulk fixture's are {@link fixtureApiKey}'s). */
const createdKeys = new Map<string, string>()
let nextIndex = 0
try {
  // Core's migrations, copied so the benchmark can add its own without touching core's.
  await cp(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true, filter: (source) => !source.endsWith('.ts') })
  let services = await createServices({ sql, tenantConnections, migrations: await benchMigrations(), actor: 'bench-scale' })
  await services.migrateAll()
  // The first tenant, made by createTenant, lends its ledger table's definition to the fixture.
  const template = await services.tenants.createTenant({ name: 'Bench template', schemaName: 'bench_template' })
  createdKeys.set('bench_template', template.apiKey.key)
  await seedPosts('bench_template')

  const pgVersion = (await sql`show server_version`)[0]!.serverVersion as string
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} (${given ? 'BENCH_DATABASE_URL' : `embedded, shared_buffers ${values['shared-buffers']}`})`
  console.log(
    `tenantbase bench:scale: sizes ${SIZES.join(', ')}; ${machine}; load ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}\n`,
  )

  for (const [stage, size] of SIZES.entries()) {
    const samples = samplesAt(size)
    const have = await tenantCount()
    const toFill = Math.max(0, size - have - 2 * samples)
    console.log(`== ${size.toLocaleString('en-US')} tenants ==`)
    const fillStart = performance.now()
    await bulkFill(toFill)
    const fillMs = performance.now() - fillStart
    console.log(
      `   bulk fixture: ${toFill} tenants in ${ms(fillMs)} (${(fillMs / Math.max(1, toFill)).toFixed(2)} ms each; load ${load()})`,
    )

    // Each size's services read the migration files as they are now.
    services = await createServices({ sql, tenantConnections, migrations: await benchMigrations(), actor: 'bench-scale' })
    const alone = sortedTimes(await timeCreations(services, stage, samples, 1))
    console.log(
      `   createTenant alone        p50 ${ms(percentile(alone, 50))}, p95 ${ms(percentile(alone, 95))}, max ${ms(alone.at(-1)!)} (${samples}; load ${load()})`,
    )
    const together = sortedTimes(await timeCreations(services, stage, samples, CREATORS))
    console.log(
      `   createTenant, 4 creators  p50 ${ms(percentile(together, 50))}, p95 ${ms(percentile(together, 95))}, max ${ms(together.at(-1)!)} (${samples}; load ${load()})`,
    )
    const tenants = await tenantCount()
    loads.push(loadavg()[0]!)

    const version = 900 + stage + 1
    const column = `bench_${version}_at`
    await writeFile(
      path.join(migrationsDir, 'tenant', `0${version}_bench_${column}.sql`),
      `alter table posts add column ${column} timestamptz;\ncreate index posts_${column}_idx on posts (${column});\n`,
    )
    const migrate = await timedCommand(`migrate (2 statements, all)`, ['migrate'])
    const [{ behind }] = await sql<
      { behind: number }[]
    >`select count(*)::int as behind from public.tenants where (migrations ->> 'core')::int < ${version}`
    if (behind !== 0) {
      failed = true
      console.log(`   FAILED: ${behind} tenants behind after the migration`)
    }
    const noop = await timedCommand('migrate (no-op)', ['migrate'])
    const status = await timedCommand('status', ['status'])
    const doctor = await timedCommand('doctor', ['doctor'])
    const list = await timedCommand('list --json', ['list', '--json'])
    const listed = (JSON.parse(list.stdout) as unknown[]).length
    if (listed !== tenants) {
      failed = true
      console.log(`   FAILED: list --json gave ${listed} tenants, the registry has ${tenants}`)
    }
    const deleteOne = await timedCommand('delete one tenant', ['delete', `timed_${stage}_0`, '--yes', '--force'])
    const [{ bytes, relations, catalogBytes }] = await sql<{ bytes: string; relations: number; catalogBytes: string }[]>`
      select pg_database_size(current_database())::text as bytes, (select count(*)::int from pg_class) as relations,
        (select sum(pg_total_relation_size(c.oid))::text from pg_class c where c.relnamespace = 'pg_catalog'::regnamespace) as catalog_bytes`
    console.log(
      `   database size              ${(Number(bytes) / 2 ** 20).toFixed(0)} MiB (${relations} relations in pg_class; the catalog ${(Number(catalogBytes) / 2 ** 20).toFixed(0)} MiB)`,
    )
    const connection = await measureNewConnection()
    console.log(
      `   new connection             ${ms(connection).padStart(9)}   (median of ${NEW_CONNECTIONS}: connect, then a random tenant's page; load ${load()})`,
    )
    const pages = await measurePages(services)
    console.log(
      `   page/s, random tenant     first visits ${pages.cold.toFixed(0)}, then every tenant visited once (${ms(pages.warmUpMs)}), ` +
        `warm ${pages.warm.toFixed(0)} against ${pages.ten.toFixed(0)} over 10 tenants: ${(pages.warm / pages.ten).toFixed(2)}; ` +
        `the pages' server memory ${pages.memoryMiB.toFixed(0)} MiB (load ${load()})\n`,
    )
    loads.push(loadavg()[0]!)
    const loaded = await measureLoads(tenants)
    loadResults.push(loaded)
    loads.push(loadavg()[0]!)
    perTenantRows.push({
      tenants,
      ...(await tenantCatalog('bench_template')),
      catalogBytes: Number(catalogBytes),
      apiMemoryMiB: loaded.memoryMiB.api,
      sharedTableMemoryMiB: loaded.memoryMiB.sharedTable,
      coldUs: loaded.api.cold.serverUs,
      warmUs: loaded.api.warm.serverUs,
      coldP50: loaded.api.cold.p50,
    })

    rows.push({
      tenants,
      createP50: percentile(alone, 50),
      createP95: percentile(alone, 95),
      concurrentP50: percentile(together, 50),
      concurrentP95: percentile(together, 95),
      migrateAll: migrate.ms,
      noopMigrate: noop.ms,
      status: status.ms,
      doctor: doctor.ms,
      list: list.ms,
      deleteOne: deleteOne.ms,
      newConnection: connection,
      databaseBytes: Number(bytes),
      pagesPerSecondCold: pages.cold,
      pagesPerSecond: pages.warm,
      pagesPerSecondTen: pages.ten,
      pagesMemoryMiB: pages.memoryMiB,
    })
  }

  const last = rows.at(-1)!
  const stated = last.tenants >= 100_000 ? '' : ` (stated for 100,000; this run's largest size is ${last.tenants.toLocaleString('en-US')})`
  console.log(`Against the targets${stated}:`)
  const target = (label: string, value: string, goal: string, met: boolean) =>
    console.log(`   ${label.padEnd(28)} ${value.padEnd(10)} ${goal.padEnd(14)} ${met ? 'met' : 'NOT MET'}`)
  target('creation p95, alone', ms(last.createP95), '<= 50 ms', last.createP95 <= 50)
  target('creation p95, 4 creators', ms(last.concurrentP95), '<= 100 ms', last.concurrentP95 <= 100)
  target('no-op migrate', ms(last.noopMigrate), '<= 3 s', last.noopMigrate <= 3000)
  target('status', ms(last.status), '<= 3 s', last.status <= 3000)
  target('doctor', ms(last.doctor), '<= 30 s', last.doctor <= 30_000)
  target('migrate all (2 statements)', ms(last.migrateAll), '<= 5 min', last.migrateAll <= 300_000)
  const ratio = last.pagesPerSecond / last.pagesPerSecondTen
  target('page/s vs 10 tenants', ratio.toFixed(2), '>= 0.80', ratio >= 0.8)

  const loadsReport = tenantLoadsReport(loadResults)
  console.log(`\nThe API against one shared table keyed by tenant_id (bare server), each size:\n\n${loadsReport}`)
  const perTenant = perTenantTable(perTenantRows)
  console.log(`\nWhat one tenant costs the server, and the settings that follow:\n\n${perTenant}`)

  const date = new Date().toISOString().slice(0, 10)
  const loadRange = `${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)}`
  console.log(`\n\`pnpm bench:scale --sizes ${SIZES.join(',')}\` (${date}; ${machine}; load average ${loadRange}):\n`)
  console.log(markdownTable(rows))
  if (values['write-docs']) {
    await writeDocsSection(
      'scale',
      `${markdownTable(rows)}\n\n![cost of each operation against the number of tenants, log-log](scale.svg)\n\n` +
        `The API against one shared table keyed by \`tenant_id\` (a bare server), ${LOAD_CONNECTIONS} connections, cold on fresh processes, ` +
        `warm and Zipf in ${ROUNDS} alternating rounds of ${SECONDS} s (medians):\n\n${loadsReport}`,
      `load average during the run ${loadRange}; PostgreSQL ${pgVersion} (${given ? 'BENCH_DATABASE_URL' : `embedded, shared_buffers ${values['shared-buffers']}`})`,
    )
  }
  if (values['write-docs']) {
    await writeDocsSection('scale', perTenant, `PostgreSQL ${pgVersion}`, { page: 'scaling.md', section: 'scale-per-tenant' })
  }
  await writeFile(
    values.svg,
    scaleChart(rows, `tenantbase: cost per operation against tenants (${date}, ${cpus().length} cores, PostgreSQL ${pgVersion})`),
  )
  console.log(`\nchart written to ${path.relative(process.cwd(), values.svg)}`)
} catch (error) {
  failed = true
  console.error('bench:scale failed:', error)
} finally {
  await fill.end({ timeout: 5 })
  await Promise.all([sql.end({ timeout: 5 }), tenantConnections.end({ timeout: 5 })])
  // A throwaway cluster goes with its folder: dropping 100,000 schemas one file at a time takes long.
  if (values.keep) console.log(`kept: DATABASE_URL=${url} TENANTCTL_MIGRATIONS_DIR=${migrationsDir}`)
  else if (given) await admin`drop database if exists ${admin(dbName)} with (force)`
  await admin.end({ timeout: 5 })
  await server.stop()
  if (!values.keep) await rm(work, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)

/**
 * The three loads (bench/tenant-loads.ts) over every tenant of the registry now, through a
 * fresh API process against the same rows in one shared table. The API runs with the
 * settings docs/scaling.md recommends for `tenants` ({@link recommendedApiSettings}).
 */
async function measureLoads(tenants: number): Promise<TenantLoadResult> {
  const registry = await sql<{ id: number; schemaName: string }[]>`select id, schema_name from public.tenants order by id`
  const copied = await fillSharedTable(url, registry)
  const settings = recommendedApiSettings(tenants)
  console.log(
    `   shared table: ${copied} posts of ${registry.length} tenants copied; the API with ${JSON.stringify(settings)} (load ${load()})`,
  )
  return measureTenantLoads({
    url,
    tenants: registry.map((t) => ({ ...t, key: createdKeys.get(t.schemaName) ?? fixtureApiKey(t.schemaName), userId: 1 })),
    jwtSecret: LOAD_JWT_SECRET,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...settings },
    connections: LOAD_CONNECTIONS,
    seconds: SECONDS,
    rounds: ROUNDS,
    coldTenants: COLD_TENANTS,
    print: console.log,
  })
}

/** One tenant schema's relations (with their TOAST tables and indexes) and its rows in the main catalogs. */
async function tenantCatalog(schemaName: string): Promise<{ relations: number; catalogRows: number }> {
  const [row] = await sql<{ relations: number; catalogRows: number }[]>`
    with own as (select c.oid, c.reltoastrelid from pg_class c where c.relnamespace = ${schemaName}::regnamespace),
    toast as (select reltoastrelid as oid from own where reltoastrelid <> 0
      union select i.indexrelid from pg_index i join own on i.indrelid = own.reltoastrelid),
    rels as (select oid from own union select oid from toast)
    select (select count(*)::int from rels) as relations,
      ((select count(*) from rels) + (select count(*) from pg_attribute where attrelid in (select oid from rels))
        + (select count(*) from pg_type where typnamespace = ${schemaName}::regnamespace or typrelid in (select oid from rels))
        + (select count(*) from pg_index where indexrelid in (select oid from rels))
        + (select count(*) from pg_constraint where connamespace = ${schemaName}::regnamespace)
        + (select count(*) from pg_attrdef where adrelid in (select oid from rels))
        + (select count(*) from pg_sequence where seqrelid in (select oid from rels))
        + (select count(*) from pg_statistic where starelid in (select oid from rels))
        + (select count(*) from pg_depend where objid in (select oid from rels) or refobjid in (select oid from rels)))::int as catalog_rows`
  return row!
}

async function tenantCount(): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from public.tenants`
  return row!.count
}

/** A user and 20 posts in one tenant's schema: the page the throughput figure reads. */
/**
 * The deployment's migrations (its tenantbase.config, as every entry point reads it), with
 * core's read from the benchmark's copy, to which it adds migrations of its own.
 */
async function benchMigrations() {
  const deployment = await loadDeployment()
  return readModuleMigrations([{ name: 'core', migrations: migrationsDir }, ...deployment.modules.slice(1)])
}

async function seedPosts(schema: string): Promise<void> {
  await fill.unsafe(seedSql(schema)).simple()
}
function seedSql(schema: string): string {
  return (
    `insert into "${schema}".users (email, password_hash) values ('bench@example.com', 'not-a-hash');\n` +
    `insert into "${schema}".posts (author_id, title, body) select 1, 'post ' || g, repeat('x', 200) from generate_series(1, 20) g;\n`
  )
}

/**
 * Adds `total` tenants as createTenant leaves them (schema, every tenant migration, the
 * ledger of each, registry row at the latest version, one key), plus a user and 20 posts
 * each, in batches of simple queries: one transaction per batch. Names come from a counter
 * (bench_0000001, ...), which no timed creation uses.
 */
async function bulkFill(total: number): Promise<void> {
  const { tenant: files } = await benchMigrations()
  const latest = JSON.stringify(latestState(files))
  const schemaDdl = (await Promise.all(files.map(statementsOf))).flat().map((s) => s.sql.trim().replace(/;\s*$/, ''))
  const ledgerRows = files.map((m) => `('${m.module}', ${m.version}, '${m.name}', '${m.checksum}')`).join(', ')
  const batches: number[][] = []
  for (let done = 0; done < total; done += FILL_BATCH) {
    batches.push(Array.from({ length: Math.min(FILL_BATCH, total - done) }, () => nextIndex++))
  }
  let next = 0
  let made = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: FILL_CONNECTIONS }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!
        const names = batch.map((i) => `bench_${String(i).padStart(7, '0')}`)
        const text = [
          'set local synchronous_commit = off',
          ...names.flatMap((schema) => [
            `create schema ${schema}`,
            `set local search_path to ${schema}`,
            'create table schema_migrations (like bench_template.schema_migrations including all)',
            ...schemaDdl,
            `insert into schema_migrations (module, version, name, checksum) values ${ledgerRows}`,
          ]),
          'set local search_path to public',
          `insert into public.tenants (name, address, schema_name, migrations) values ${names.map((n) => `('Bulk ${n}', '', '${n}', '${latest}')`).join(', ')}`,
          `insert into public.api_keys (tenant_id, prefix, key_hash, name)
             select id, 'tb_' || substr(md5(schema_name), 1, 12), sha256(convert_to(${fixtureApiKeySql('schema_name')}, 'UTF8')), 'default'
             from public.tenants where schema_name in (${names.map((n) => `'${n}'`).join(', ')})`,
        ].join(';\n')
        await fill.begin(async (tx) => {
          await tx.unsafe(text).simple()
          await tx.unsafe(names.map(seedSql).join('')).simple()
        })
        made += batch.length
        if (made % 10_000 < FILL_BATCH && total >= 20_000) {
          const rate = (performance.now() - started) / made
          console.log(`   ... ${made} of ${total} (${rate.toFixed(2)} ms each, about ${ms((total - made) * rate)} left; load ${load()})`)
        }
      }
    }),
  )
  await fill`vacuum analyze public.tenants, public.api_keys`
}

/** Times `samples` createTenant calls made by `creators` callers at once. */
async function timeCreations(services: Services, stage: number, samples: number, creators: number): Promise<number[]> {
  const times: number[] = []
  let next = 0
  const prefix = creators === 1 ? `timed_${stage}` : `timed_${stage}_c`
  await Promise.all(
    Array.from({ length: creators }, async () => {
      while (next < samples) {
        const i = next++
        const start = performance.now()
        const { apiKey } = await services.tenants.createTenant({ name: `${prefix}_${i}`, schemaName: `${prefix}_${i}` })
        times.push(performance.now() - start)
        createdKeys.set(`${prefix}_${i}`, apiKey.key)
        await seedPosts(`${prefix}_${i}`)
      }
    }),
  )
  return times
}

/**
 * A random tenant's first page of 20 posts through core's listPosts, PAGE_CALLERS callers
 * on PAGE_POOL home connections: first one round over every tenant as a freshly started
 * server meets them (its connections have cached few of them), then, after each tenant's
 * page has been read once (so each home connection holds its share of tenants' plans and
 * catalog entries, as a long-running server's would), rounds over every tenant alternating
 * with rounds over 10 of them. Medians of pages per second, and the private memory
 * (RssAnon) of the home connections' server backends at the end.
 */
/**
 * What a new connection costs before its first answer: the median, over fresh single-connection
 * pools, of connecting and reading a random tenant's page (what the driver asks the server at
 * start-up included; the pool's first query pays it).
 */
async function measureNewConnection(): Promise<number> {
  const tenants = await sql<{ schemaName: string }[]>`select schema_name from public.tenants order by random() limit ${NEW_CONNECTIONS}`
  const times: number[] = []
  for (const { schemaName } of tenants) {
    const start = performance.now()
    const fresh = createPool(url, { max: 1 })
    await fresh`select id, title from ${fresh(schemaName)}.posts order by id desc limit 20`
    times.push(performance.now() - start)
    await fresh.end({ timeout: 5 })
  }
  return percentile(sortedTimes(times), 50)
}

async function measurePages(services: Services): Promise<{ cold: number; warmUpMs: number; warm: number; ten: number; memoryMiB: number }> {
  const tenants = await sql<{ id: number; schemaName: string }[]>`select id, schema_name from public.tenants order by id`
  const ten = tenants.slice(0, 10)
  const read = async (tenant: { id: number; schemaName: string }) => {
    const page = await services.posts.listPosts(tenant)
    if (page.results.length !== 20) throw new Error(`a tenant's page had ${page.results.length} posts, not 20`)
  }
  const round = async (from: readonly { id: number; schemaName: string }[], seconds: number) => {
    const deadline = performance.now() + seconds * 1000
    let done = 0
    await Promise.all(
      Array.from({ length: PAGE_CALLERS }, async () => {
        while (performance.now() < deadline) {
          await read(from[Math.floor(Math.random() * from.length)]!)
          done++
        }
      }),
    )
    return done / seconds
  }
  const cold = await round(tenants, SECONDS)
  const warmUpStart = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: PAGE_CALLERS }, async () => {
      while (next < tenants.length) await read(tenants[next++]!)
    }),
  )
  const warmUpMs = performance.now() - warmUpStart
  await round(ten, 1)
  const all: number[] = []
  const few: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    all.push(await round(tenants, SECONDS))
    few.push(await round(ten, SECONDS))
  }
  const median = (xs: number[]) => sortedTimes(xs)[Math.floor(xs.length / 2)]!
  return { cold, warmUpMs, warm: median(all), ten: median(few), memoryMiB: await backendMemoryMiB(sql, PAGES_APPLICATION) }
}
