import { readFile } from 'node:fs/promises'
import path from 'node:path'
import postgres from 'postgres'
import t from 'tap'
import { createTestDatabase, testCitusWorkers } from '../../src/testing.js'
import { createServices, readModuleMigrations, DEFAULT_MIGRATIONS_DIR } from '../../src/index.js'

// A database made by the release before modules (its registry has one version per tenant,
// its ledgers are keyed by version alone) migrates forward with no manual step, and a module
// added in the same run reaches its tenants.

const FIXTURE = new URL('../fixtures/database-before-modules.sql', import.meta.url)

t.test('a database of the release before modules migrates forward with a module added', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  // The dump sets its own session (search_path ''): loaded on a connection of its own.
  const loader = postgres(db.url, { max: 1, onnotice: () => {} })
  // On Citus the dump is loaded with schema-based sharding off (it adds its identity columns
  // with ALTER TABLE, which Citus refuses on a distributed table), and its tenant schemas
  // are then distributed, as an existing deployment's are (docs/scaling.md).
  const citus = testCitusWorkers().length > 0
  if (citus) await loader`set citus.enable_schema_based_sharding = off`
  await loader.unsafe(await readFile(FIXTURE, 'utf8')).simple()
  if (citus) for (const schema of ['acme', 'globex']) await loader`select citus_schema_distribute(${schema})`
  await loader.end()

  const dir = t.testdir({ notes: { tenant: { '0001_notes.sql': 'create table notes (id bigint primary key, body text not null);\n' } } })
  const migrations = await readModuleMigrations([
    { name: 'core', migrations: DEFAULT_MIGRATIONS_DIR },
    { name: 'notes', migrations: path.join(dir, 'notes') },
  ])
  const services = await createServices({ sql: db.sql, migrations })

  const before = await services.migrationStatus()
  t.same(before.shared.state, { core: 3 }, 'status reads the old ledger')
  t.same(
    before.tenants.map((tenant) => [tenant.schemaName, tenant.state, tenant.pending]),
    [
      ['acme', { core: 2 }, ['core/0003_idempotency_keys.sql', 'notes/0001_notes.sql']],
      ['globex', { core: 2 }, ['core/0003_idempotency_keys.sql', 'notes/0001_notes.sql']],
    ],
  )

  const report = await services.migrateAll()
  t.equal(report.failed, 0, JSON.stringify(report.tenants))
  t.same(
    report.tenants.map((tenant) => [tenant.schema, tenant.from, tenant.to]),
    [
      ['acme', { core: 2 }, { core: 3, notes: 1 }],
      ['globex', { core: 2 }, { core: 3, notes: 1 }],
    ],
  )
  const ledger = await db.sql<
    { module: string; version: number }[]
  >`select module, version from acme.schema_migrations order by module, version`
  t.same(
    ledger.map((row) => `${row.module}/${row.version}`),
    ['core/1', 'core/2', 'core/3', 'notes/1'],
    "the tenant's ledger is keyed by module, its rows kept",
  )
  const files = await db.sql<
    { module: string; version: number }[]
  >`select module, version from public.tenant_migration_files order by module, version`
  t.same(
    files.map((row) => `${row.module}/${row.version}`),
    ['core/1', 'core/2', 'core/3', 'notes/1'],
  )
  t.same((await services.migrationStatus()).upToDate, true)
  t.same(await services.findInconsistencies(), [], 'doctor finds nothing')

  // The tenant's data came through: the user logs in, the post is there.
  const acme = await services.tenants.getTenant('acme')
  const user = await services.users.authenticateUser(acme, 'ann@acme.test', 'correct horse battery')
  t.same(
    (await services.posts.listPosts(acme)).results.map((post) => post.title),
    ['Hello'],
  )
  t.equal(user.name, 'Ann')
  const { tenant } = await services.tenants.createTenant({ name: 'Initech', schemaName: 'initech' })
  t.same(tenant.migrations, { core: 3, notes: 1 }, 'a new tenant beside the old ones')
})
