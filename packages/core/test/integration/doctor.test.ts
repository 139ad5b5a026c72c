import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { findInconsistencies } from '../../src/doctor/find-inconsistencies.js'
import { DEFAULT_MIGRATIONS_DIR, readMigrations } from '../../src/index.js'
import { makeTenant, randomSchema, setupServices } from '../helpers.js'

const kinds = (findings: { kind: string; schema: string | null }[]) => findings.map((f) => [f.kind, f.schema])

t.test('a consistent database has no findings', async (t) => {
  const { db, services } = await setupServices(t)
  await makeTenant(services)
  await makeTenant(services)
  t.same(await findInconsistencies(db.sql, services.migrations), [])
})

t.test('a registry row whose schema is gone; the fix (delete) clears it', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await makeTenant(services)
  await db.sql`drop schema ${db.sql(tenant.schemaName)} cascade`
  const findings = await findInconsistencies(db.sql, services.migrations)
  t.same(kinds(findings), [['missing-schema', tenant.schemaName]])
  t.match(findings[0]!.fix, `tenantctl delete ${tenant.schemaName} --yes --force`)
  await services.tenants.deleteTenant(tenant.schemaName, { force: true })
  t.same(await findInconsistencies(db.sql, services.migrations), [])
})

t.test('a tenant-looking schema with no registry row; plain schemas are not tenant-looking', async (t) => {
  const { db, services } = await setupServices(t)
  const orphan = randomSchema('orphan')
  const plain = randomSchema('plain')
  await db.sql`create schema ${db.sql(orphan)}`
  await db.sql`create table ${db.sql(orphan)}.schema_migrations (version int primary key)`
  await db.sql`create schema ${db.sql(plain)}`
  await db.sql`create table ${db.sql(plain)}.things (id int)`
  const findings = await findInconsistencies(db.sql, services.migrations)
  t.same(kinds(findings), [['unregistered-schema', orphan]])
  t.match(findings[0]!.fix, `DROP SCHEMA "${orphan}" CASCADE`)
})

t.test('schemas behind the files: tenants and the shared schema', async (t) => {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await writeFile(path.join(dir, 'tenant', '0050_more.sql'), 'create table more (id int primary key);\n')
  await writeFile(path.join(dir, 'shared', '0050_more.sql'), 'create table more (id int primary key);\n')
  const newer = await readMigrations(dir)
  const findings = await findInconsistencies(db.sql, newer)
  t.same(kinds(findings), [
    ['schema-behind', 'public'],
    ['schema-behind', tenant.schemaName],
  ])
  t.match(findings[1]!.message, /lacks 1 migration: core\/0050_more\.sql/)
  t.match(findings[1]!.fix, `tenantctl migrate --schema ${tenant.schemaName}`)
})

t.test('a schema ahead of the files, and a registry that disagrees with the ledger', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await db.sql`insert into ${db.sql(tenant.schemaName)}.schema_migrations (module, version, name, checksum) values ('core', 99, 'from_the_future', 'x')`
  const findings = await findInconsistencies(db.sql, services.migrations)
  t.same(kinds(findings), [
    ['schema-ahead', tenant.schemaName],
    ['registry-version-mismatch', tenant.schemaName],
  ])
  t.match(findings[0]!.message, /migrations of module core applied that no file has: 99 \(from_the_future\)/)
  t.match(findings[1]!.message, /registry says .* at core 3 but its schema_migrations says core 99/)
})

t.test('schema-ahead names the module whose files are missing, and whether the deployment declares it', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await db.sql`insert into ${db.sql(tenant.schemaName)}.schema_migrations (module, version, name, checksum) values ('comments', 1, 'comments', 'x')`
  const findings = await findInconsistencies(db.sql, services.migrations)
  t.match(findings[0], {
    kind: 'schema-ahead',
    message: /module comments applied .* \(module comments is not declared in this deployment's tenantbase\.config\)/,
    fix: /declare module comments in tenantbase\.config again/,
  })
})

t.test('checksum mismatches: in a tenant ledger, and in the recorded tenant files', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  await db.sql`update ${db.sql(tenant.schemaName)}.schema_migrations set checksum = 'edited' where version = 1`
  let findings = await findInconsistencies(db.sql, services.migrations)
  t.same(kinds(findings), [['checksum-mismatch', tenant.schemaName]])
  t.match(findings[0]!.message, /0001_users_and_posts\.sql was changed after it was applied/)

  await db.sql`update ${db.sql(tenant.schemaName)}.schema_migrations set checksum = ${services.migrations.tenant[0]!.checksum} where version = 1`
  await db.sql`update public.tenant_migration_files set checksum = 'edited' where version = 2`
  findings = await findInconsistencies(db.sql, services.migrations)
  t.same(kinds(findings), [['checksum-mismatch', null]])
  t.match(findings[0]!.message, /0002_\w+\.sql differs from the file first applied/)
})

t.test('keys of deleted tenants exist only without the foreign key, and both are reported', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  // With the foreign key, deleting the registry row takes its keys (on delete cascade).
  const { tenant: other } = await makeTenant(services)
  await db.sql`delete from public.tenants where id = ${other.id}`
  await db.sql`drop schema ${db.sql(other.schemaName)} cascade`
  t.same(await findInconsistencies(db.sql, services.migrations), [], 'the cascade leaves no orphan key')

  await db.sql`alter table public.api_keys drop constraint api_keys_tenant_id_fkey`
  await db.sql`delete from public.tenants where id = ${tenant.id}`
  await db.sql`drop schema ${db.sql(tenant.schemaName)} cascade`
  const findings = await findInconsistencies(db.sql, services.migrations)
  t.same(kinds(findings), [
    ['missing-foreign-key', 'public'],
    ['orphan-api-key', null],
  ])
  t.match(findings[1]!.message, apiKey.prefix)
})
