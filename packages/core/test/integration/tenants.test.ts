import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { ConflictError, DEFAULT_MIGRATIONS_DIR, NotFoundError, ValidationError, createServices } from '../../src/index.js'
import { FAST_CONFIG, makeTenant, randomSchema, setupServices } from '../helpers.js'

t.test('creates a tenant with its schema, tables, migrations and first key', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await services.tenants.createTenant({
    name: '  Acme  ',
    address: '1 Main St',
    schemaName: randomSchema('acme'),
    keyName: 'ci',
  })
  t.equal(tenant.name, 'Acme', 'trimmed')
  t.same(tenant.migrations, { core: services.migrations.tenant.at(-1)!.version })
  t.equal(apiKey.name, 'ci')
  const tables = await db.sql`
    select table_name from information_schema.tables where table_schema = ${tenant.schemaName} order by 1`
  t.same(
    tables.map((row) => row.tableName),
    ['idempotency_keys', 'posts', 'refresh_tokens', 'schema_migrations', 'users'],
  )
  const ledger = await db.sql`select module, version from ${db.sql(tenant.schemaName)}.schema_migrations order by version`
  t.same(
    ledger.map((row) => [row.module, row.version]),
    services.migrations.tenant.map((m) => ['core', m.version]),
  )
  t.same((await services.apiKeyResolver.resolve(apiKey.key)).id, tenant.id)
  t.same((await services.tenants.getTenant(tenant.schemaName)).id, tenant.id)
  t.same((await services.tenants.getTenant(tenant.id)).schemaName, tenant.schemaName)
  const [listed] = (await services.tenants.listTenants()).filter((row) => row.id === tenant.id)
  t.equal(listed?.activeKeys, 1)
})

t.test('duplicates and invalid input are refused before anything is written', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await t.rejects(services.tenants.createTenant({ name: tenant.name, schemaName: randomSchema() }), ConflictError)
  await t.rejects(services.tenants.createTenant({ name: 'Other', schemaName: tenant.schemaName }), { code: 'SCHEMA_TAKEN' })
  const stray = randomSchema('stray')
  await db.sql`create schema ${db.sql(stray)}`
  await t.rejects(services.tenants.createTenant({ name: 'Stray', schemaName: stray }), { code: 'SCHEMA_TAKEN' })
  await t.rejects(services.tenants.createTenant({ name: 'Bad', schemaName: 'a"; drop schema public; --' }), ValidationError)
  await t.rejects(services.tenants.createTenant({ name: '', schemaName: randomSchema() }), ValidationError)
  const [row] = await db.sql`select count(*)::int as count from public.tenants`
  t.equal(row!.count, 1)
})

t.test('creation is atomic: a failure mid-way leaves no row, schema or key', async (t) => {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  await writeFile(path.join(dir, 'tenant', '0099_breaks.sql'), 'create table broken (id int primary key);\nselect 1/0;\n')
  const { db, services } = await setupServices(t, { migrationsDir: dir })
  const schemaName = randomSchema('atomic')
  await t.rejects(services.tenants.createTenant({ name: 'Atomic', schemaName }), /0099_breaks\.sql line 2 failed: division by zero/)
  const [tenants] = await db.sql`select count(*)::int as count from public.tenants`
  const [keys] = await db.sql`select count(*)::int as count from public.api_keys`
  const [schema] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schemaName}`
  t.same([tenants!.count, keys!.count, schema!.count], [0, 0, 0])

  // The same schema name works once the migration is fixed: nothing was left behind.
  await writeFile(path.join(dir, 'tenant', '0099_breaks.sql'), 'create table broken (id int primary key);\n')
  const fixed = await createServices({ sql: db.sql, config: FAST_CONFIG, migrationsDir: dir })
  const { tenant } = await fixed.tenants.createTenant({ name: 'Atomic', schemaName })
  t.same(tenant.migrations, { core: 99 })
})

t.test('delete drops the schema and the keys, and wants the name twice', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  await t.rejects(services.tenants.deleteTenant(tenant.schemaName), { code: 'TENANT_ACTIVE' }, 'an active tenant is not dropped by a slip')
  t.equal((await services.tenants.getTenant(tenant.schemaName)).id, tenant.id, 'still there')
  await services.tenants.suspendTenant(tenant.schemaName)
  await services.tenants.deleteTenant(tenant.schemaName)
  const [schema] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${tenant.schemaName}`
  t.equal(schema!.count, 0)
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { code: 'INVALID_API_KEY' }, 'key stops working at once, cache included')
  await t.rejects(services.tenants.getTenant(tenant.schemaName), NotFoundError)
  await t.rejects(services.tenants.deleteTenant(tenant.schemaName), NotFoundError)
})
