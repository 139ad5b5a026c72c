/**
 * Tenant lifecycle at scale, end to end: how creation time grows with the number of
 * tenants, then how long `tenantctl migrate` takes to apply a new tenant migration to all
 * of them, and what a no-op `tenantctl migrate` and `tenantctl status` cost (CI runs both
 * on every deploy). The migrate and status figures are whole cli processes, node start-up
 * included, as an operator or a CI job sees them.
 *
 * Targets, for 10,000 tenants: creation p95 <= 50 ms; the two-statement
 * migration <= 60 s; no-op migrate and status <= 3 s each.
 *
 *   pnpm bench:tenants [--tenants 1000] [--concurrency 4] [--port 54391]
 *
 * Runs on a throwaway embedded PostgreSQL (or BENCH_DATABASE_URL's server, in a new
 * database) and a copy of core's migrations plus one benchmark-only migration. The load
 * column is the machine's 1-minute load average: other work on the machine shows there.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { DEFAULT_MIGRATIONS_DIR, createPool, createServices, startEmbeddedCluster } from '@tenantbase/core'

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
    port: { type: 'string', default: '54391' },
  },
})
const TENANTS = Number(values.tenants)
const CONCURRENCY = Number(values.concurrency)
if (!Number.isInteger(TENANTS) || TENANTS < 1 || !Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) {
  console.error('usage: pnpm bench:tenants [--tenants N] [--concurrency C]')
  process.exit(2)
}
const CLI = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url))
const BENCH_MIGRATION = '0900_bench_published_at.sql'

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
const ms = (value: number) => `${value.toFixed(1)} ms`
const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`

/** Runs the built cli with the benchmark's database; returns its wall time and output. */
function tenantctl(args: string[], env: Record<string, string>): Promise<{ code: number | null; ms: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, ms: performance.now() - start, stdout, stderr }))
  })
}

const work = await mkdtemp(path.join(tmpdir(), 'tenantbase-bench-tenants-'))
const given = process.env.BENCH_DATABASE_URL
const cluster = given
  ? undefined
  : await startEmbeddedCluster({
      dataDir: path.join(work, 'pg'),
      port: Number(values.port),
      user: 'postgres',
      password: 'postgres',
      database: 'postgres',
      persistent: false,
    })
const serverUrl = given ?? cluster!.url
const dbName = `tenantbase_bench_${randomBytes(4).toString('hex')}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin`create database ${admin(dbName)}`
const url = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString()
const env = { DATABASE_URL: url, JWT_SECRET: randomBytes(32).toString('hex'), TENANTCTL_MIGRATIONS_DIR: path.join(work, 'migrations') }

let failed = false
const sql = createPool(url, { max: 4 })
try {
  // Core's migrations, copied so the benchmark can add its own without touching core's.
  await cp(DEFAULT_MIGRATIONS_DIR, env.TENANTCTL_MIGRATIONS_DIR, { recursive: true, filter: (source) => !source.endsWith('.ts') })
  const services = await createServices({ sql, migrationsDir: env.TENANTCTL_MIGRATIONS_DIR })
  await services.migrateAll()

  console.log(`tenantbase bench:tenants: ${TENANTS} tenants, migrate concurrency ${CONCURRENCY}, node ${process.version}`)
  console.log(`PostgreSQL: ${(await sql`show server_version`)[0]!.serverVersion} (${given ? 'BENCH_DATABASE_URL' : 'embedded, throwaway'})\n`)
  console.log('1. Creating tenants one at a time (registry row + schema + tenant migrations + first key, one transaction)')
  console.log('   tenants created    p50        p95        max        load (1 min)')
  const step = Math.max(1, Math.round(TENANTS / 10))
  let window: number[] = []
  const all: number[] = []
  const creationStart = performance.now()
  for (let i = 0; i < TENANTS; i++) {
    const start = performance.now()
    await services.tenants.createTenant({ name: `Bench tenant ${i}`, address: `${i} Bench Street`, schemaName: `bench_${i}` })
    const elapsed = performance.now() - start
    window.push(elapsed)
    all.push(elapsed)
    if ((i + 1) % step === 0 || i + 1 === TENANTS) {
      const sorted = window.sort((a, b) => a - b)
      const label = `${i + 2 - window.length}-${i + 1}`.padEnd(17)
      const max = ms(sorted.at(-1)!).padEnd(9)
      console.log(`   ${label}  ${ms(percentile(sorted, 50)).padEnd(9)}  ${ms(percentile(sorted, 95)).padEnd(9)}  ${max}  ${loadavg()[0]!.toFixed(2)}`)
      window = []
    }
  }
  const allSorted = all.sort((a, b) => a - b)
  console.log(`   all ${TENANTS}: p50 ${ms(percentile(allSorted, 50))}, p95 ${ms(percentile(allSorted, 95))}, total ${seconds(performance.now() - creationStart)}\n`)

  console.log(`2. tenantctl migrate: a two-statement tenant migration (${BENCH_MIGRATION}) to all ${TENANTS} tenants`)
  await writeFile(
    path.join(env.TENANTCTL_MIGRATIONS_DIR, 'tenant', BENCH_MIGRATION),
    'alter table posts add column published_at timestamptz;\ncreate index posts_published_at_idx on posts (published_at);\n',
  )
  const migrate = await tenantctl(['migrate', '--concurrency', String(CONCURRENCY)], env)
  const summary = migrate.stdout.trim().split('\n').at(-1)
  console.log(`   ${seconds(migrate.ms)}  (exit ${migrate.code}; ${summary})`)
  const behind = await sql<{ count: number }[]>`select count(*)::int as count from public.tenants where migration_version < 900`
  if (migrate.code !== 0 || behind[0]!.count !== 0) {
    failed = true
    console.log(`   FAILED: ${behind[0]!.count} tenants behind\n${migrate.stderr}`)
  }

  console.log('\n3. No-op runs (everything up to date), whole cli processes')
  const noop = await tenantctl(['migrate', '--concurrency', String(CONCURRENCY)], env)
  console.log(`   tenantctl migrate   ${seconds(noop.ms)}  (exit ${noop.code}; ${noop.stdout.trim().split('\n').at(-1)})`)
  const status = await tenantctl(['status'], env)
  console.log(`   tenantctl status    ${seconds(status.ms)}  (exit ${status.code}; ${status.stdout.trim().split('\n').at(-1)})`)
  const help = await tenantctl(['--help'], env)
  console.log(`   tenantctl --help    ${seconds(help.ms)}  (node start-up alone, for reference)`)
  if (noop.code !== 0 || status.code !== 0) failed = true

  const p95 = percentile(allSorted, 95)
  console.log('\nAgainst the targets (stated for 10,000 tenants):')
  console.log(`   creation p95        ${ms(p95).padEnd(10)} target <= 50 ms`)
  console.log(`   migrate all         ${seconds(migrate.ms).padEnd(10)} target <= 60 s`)
  console.log(`   no-op migrate       ${seconds(noop.ms).padEnd(10)} target <= 3 s`)
  console.log(`   status              ${seconds(status.ms).padEnd(10)} target <= 3 s`)
} finally {
  await sql.end({ timeout: 5 })
  await admin`drop database if exists ${admin(dbName)} with (force)`
  await admin.end({ timeout: 5 })
  await cluster?.stop()
  await rm(work, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
