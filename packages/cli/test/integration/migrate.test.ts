import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { DEFAULT_MIGRATIONS_DIR } from '@tenantbase/core'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

// `tenantctl migrate` against real tenant schemas, with a migrations folder of the test's own.

const EXTRA = '0004_audit_log.sql'
const EXTRA_SQL =
  'create table audit_log (id bigint generated always as identity primary key, at timestamptz not null default now());\n' +
  'create index audit_log_at_idx on audit_log (at);\n'

interface Report {
  failed: number
  upToDate: number
  latestTenantState: Record<string, number>
  tenants: { schema: string; ok: boolean; from: number; to: number; error?: string }[]
  pending: { schema: string; migrations: string[] }[]
}

t.test('one broken tenant: the others migrate, exit 1, and the broken one is named with its error', async (t) => {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  const { db, services } = await setupDatabase(t, { migrationsDir: dir })
  const [good1, broken, good2] = [randomSchema('ok'), randomSchema('broken'), randomSchema('ok')]
  for (const schema of [good1, broken, good2]) await services.tenants.createTenant({ name: `T ${schema}`, schemaName: schema })
  // The broken tenant already has a table the new migration creates.
  await db.sql`create table ${db.sql(broken)}.audit_log (id int)`
  await writeFile(path.join(dir, 'tenant', EXTRA), EXTRA_SQL)
  const url = db.url

  const dry = await runCli(['migrate', '--dry-run', '--json', '--migrations-dir', dir], { url })
  t.equal(dry.code, 0, dry.stderr)
  t.same(
    parseJson<Report>(t, dry).pending.map((p) => p.migrations),
    [[`core/${EXTRA}`], [`core/${EXTRA}`], [`core/${EXTRA}`]],
    'the dry run lists what is pending',
  )
  t.same(
    (await services.tenants.listTenants()).map((row) => row.migrations),
    [{ core: 3 }, { core: 3 }, { core: 3 }],
    'and applies nothing',
  )

  const result = await runCli(['migrate', '--migrations-dir', dir], { url })
  t.equal(result.code, 1, 'exit 1 when a schema failed')
  t.match(
    result.stdout,
    new RegExp(`\\[\\d/3\\] ${broken} FAILED .*${EXTRA} line 1 failed: relation "audit_log" already exists`),
    'a line per tenant names the failure, file and line',
  )
  t.match(result.stdout, new RegExp(`\\[\\d/3\\] ${good1} ok core 3 -> core 4`))
  t.match(result.stdout, /2 migrated to core 4, 1 failed, 0 already up to date/)
  t.match(result.stdout, new RegExp(`✖ ${broken}: .*already exists`), 'the summary names it with its error')
  t.match(result.stderr, new RegExp(`^error: 1 tenant schema failed to migrate: ${broken}\\n$`))
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')

  const versions = Object.fromEntries((await services.tenants.listTenants()).map((row) => [row.schemaName, row.migrations]))
  t.same(
    versions,
    { [good1]: { core: 4 }, [broken]: { core: 3 }, [good2]: { core: 4 } },
    'the others were migrated, the broken one left as it was',
  )

  // Status gates on the broken tenant; once fixed, migrate brings only it up to date.
  const status = await runCli(['status', '--json', '--migrations-dir', dir], { url })
  t.equal(status.code, 1)
  t.same(
    parseJson<{ tenants: { schemaName: string; pending: string[] }[] }>(t, status)
      .tenants.filter((row) => row.pending.length > 0)
      .map((row) => row.schemaName),
    [broken],
  )

  await db.sql`drop table ${db.sql(broken)}.audit_log`
  const fixed = await runCli(['migrate', '--json', '--migrations-dir', dir], { url })
  t.equal(fixed.code, 0, fixed.stderr)
  const report = parseJson<Report>(t, fixed)
  t.same(
    report.tenants.map((row) => [row.schema, row.ok, row.from, row.to]),
    [[broken, true, { core: 3 }, { core: 4 }]],
  )
  t.equal(report.upToDate, 2)
  t.equal((await runCli(['status', '--migrations-dir', dir], { url })).code, 0)
})

t.test('--json reports each failure; --schema limits the run; TENANTCTL_MIGRATIONS_DIR works too', async (t) => {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  const { db, services } = await setupDatabase(t, { migrationsDir: dir })
  const [a, b, c] = [randomSchema('a'), randomSchema('b'), randomSchema('c')]
  for (const schema of [a, b, c]) await services.tenants.createTenant({ name: `T ${schema}`, schemaName: schema })
  await db.sql`create table ${db.sql(b)}.audit_log (id int)`
  await writeFile(path.join(dir, 'tenant', EXTRA), EXTRA_SQL)
  const env = { TENANTCTL_MIGRATIONS_DIR: dir }

  const only = await runCli(['migrate', '--schema', a, '--json', '--concurrency', '2'], { url: db.url, env })
  t.equal(only.code, 0, only.stderr)
  t.same(
    parseJson<Report>(t, only).tenants.map((row) => row.schema),
    [a],
    'only the schema asked for',
  )

  const rest = await runCli(['migrate', '--json', '--concurrency', '1'], { url: db.url, env })
  t.equal(rest.code, 1)
  const report = parseJson<Report>(t, rest)
  t.equal(report.failed, 1)
  t.same(
    report.tenants.filter((row) => !row.ok).map((row) => row.schema),
    [b],
  )
  t.match(report.tenants.find((row) => row.schema === b)?.error, /already exists/)
  t.match(rest.stderr, new RegExp(`${b} FAILED`), 'the per-tenant lines went to stderr, not into the JSON')

  const unknown = await runCli(['migrate', '--schema', 'no_such_schema'], { url: db.url, env })
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /error: no tenant with schema no_such_schema/)
})

t.test('zero tenants is success', async (t) => {
  const { db } = await setupDatabase(t)
  const result = await runCli(['migrate'], { url: db.url })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /0 migrated to core 3, 0 failed, 0 already up to date/)
})

t.test('a fresh database: status says the shared schema is pending; migrate creates it', async (t) => {
  const { createTestDatabase } = await import('@tenantbase/core/testing')
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const before = await runCli(['status'], { url: db.url })
  t.equal(before.code, 1)
  t.match(
    before.stdout,
    /shared schema \(public\): none of core 5, pending: core\/0001_tenant_registry\.sql, core\/0002_key_and_tenant_lifecycle\.sql, core\/0003_revoked_sessions\.sql, core\/0004_migration_state_by_module\.sql, core\/0005_tenant_domains\.sql/,
  )
  const migrated = await runCli(['migrate'], { url: db.url })
  t.equal(migrated.code, 0, migrated.stderr)
  t.match(migrated.stdout, /shared schema: migrated none -> core 5/)
  t.equal((await runCli(['status'], { url: db.url })).code, 0)
})
