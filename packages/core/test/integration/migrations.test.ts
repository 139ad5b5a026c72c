import { appendFile, cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { DEFAULT_MIGRATIONS_DIR, MigrationError, createPool, createServices, type MigrationProgress } from '../../src/index.js'
import { FAST_CONFIG, makeTenant, setupServices } from '../helpers.js'
import { useSchema } from '../../src/db/tenant-scope.js'

/** A copy of core's migrations that a test may extend or break. */
async function migrationsCopy(t: Test): Promise<string> {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  return dir
}

const reload = (sql: Parameters<typeof createServices>[0]['sql'], migrationsDir: string) =>
  createServices({ sql, config: FAST_CONFIG, migrationsDir })

t.test('a no-op run touches no tenant and reports them up to date', async (t) => {
  const { services } = await setupServices(t)
  for (let i = 0; i < 3; i++) await makeTenant(services)
  const events: MigrationProgress['type'][] = []
  const report = await services.migrateAll({ onProgress: (event) => events.push(event.type) })
  t.equal(report.tenants.length, 0)
  t.equal(report.upToDate, 3)
  t.same(report.shared.from, report.shared.to)
  t.same(events, ['shared-done', 'tenants-found'])
})

t.test('new tenant migrations reach every tenant; one broken tenant stops no one', async (t) => {
  const dir = await migrationsCopy(t)
  const { db, services } = await setupServices(t, { migrationsDir: dir })
  const tenants = []
  for (let i = 0; i < 5; i++) tenants.push((await makeTenant(services, 'm')).tenant)
  const broken = tenants[2]!
  // Something in one schema that the next migration collides with.
  await db.sql`create table ${db.sql(broken.schemaName)}.tags (oops int)`
  await writeFile(
    path.join(dir, 'tenant', '0004_tags.sql'),
    'create table tags (id bigint generated always as identity primary key, label text not null);\n',
  )
  await writeFile(path.join(dir, 'tenant', '0005_tag_index.sql'), 'create index tags_label_idx on tags (label);\n')
  const next = await reload(db.sql, dir)

  const dry = await next.migrateAll({ dryRun: true })
  t.equal(dry.pending.length, 5)
  t.same(dry.pending[0]!.migrations, ['core/0004_tags.sql', 'core/0005_tag_index.sql'])
  const [stillOld] = await db.sql`select count(*)::int as count from public.tenants where migrations = '{"core": 3}'`
  t.equal(stillOld!.count, 5, 'dry run applied nothing')

  const done: number[] = []
  const report = await next.migrateAll({ concurrency: 2, onProgress: (e) => e.type === 'tenant-done' && done.push(e.done) })
  t.equal(report.failed, 1)
  t.same(done, [1, 2, 3, 4, 5])
  const failure = report.tenants.find((r) => !r.ok)!
  t.equal(failure.schema, broken.schemaName, 'names the broken tenant')
  t.match(failure.error, /0004_tags\.sql line 1 failed/)
  t.same([failure.from, failure.to], [{ core: 3 }, { core: 3 }], 'nothing half-applied')
  for (const tenant of tenants.filter((x) => x !== broken)) {
    const row = report.tenants.find((r) => r.schema === tenant.schemaName)!
    t.same([row.ok, row.from, row.to], [true, { core: 3 }, { core: 5 }], tenant.schemaName)
    const [ledger] = await db.sql`select max(version) as v from ${db.sql(tenant.schemaName)}.schema_migrations`
    t.equal(ledger!.v, 5)
  }
  const [brokenLedger] = await db.sql`select max(version) as v from ${db.sql(broken.schemaName)}.schema_migrations`
  t.equal(brokenLedger!.v, 3, 'the broken schema stays exactly at its version')

  // Fix it by hand and rerun: only the broken one is picked up.
  await db.sql`drop table ${db.sql(broken.schemaName)}.tags`
  const rerun = await next.migrateAll()
  t.same(
    rerun.tenants.map((r) => [r.schema, r.ok, r.to]),
    [[broken.schemaName, true, { core: 5 }]],
  )
})

t.test('a migration runs statement by statement in one transaction; a failing one is named by file and line', async (t) => {
  const dir = await migrationsCopy(t)
  const { db, services } = await setupServices(t, { migrationsDir: dir })
  const { tenant } = await makeTenant(services, 'stmt')
  await writeFile(
    path.join(dir, 'tenant', '0004_labels.sql'),
    [
      '-- two statements that work, then one that does not',
      "create table labels (id bigint generated always as identity primary key, label text not null default 'a;b');",
      'create index labels_label_idx on labels (label);',
      '',
      'alter table labels add constraint labels_missing_fk foreign key (nope) references users (id);',
      '',
    ].join('\n'),
  )
  const report = await (await reload(db.sql, dir)).migrateAll()
  const failure = report.tenants.find((r) => r.schema === tenant.schemaName)!
  t.equal(failure.ok, false)
  t.match(failure.error, /0004_labels\.sql line 5 failed: .*nope/)
  const [table] = await db.sql`select to_regclass(${tenant.schemaName + '.labels'}) as found`
  t.equal(table!.found, null, 'the statements before the failing one were rolled back with it')
})

t.test('two concurrent runs apply nothing twice', async (t) => {
  const dir = await migrationsCopy(t)
  const { db, services } = await setupServices(t, { migrationsDir: dir, poolMax: 12 })
  for (let i = 0; i < 8; i++) await makeTenant(services, 'c')
  await writeFile(
    path.join(dir, 'tenant', '0004_counter.sql'),
    'create table counter (id int primary key);\ninsert into counter values (1);\n',
  )
  const next = await reload(db.sql, dir)
  const waits: string[] = []
  const [first, second] = await Promise.all([
    next.migrateAll({ concurrency: 3, onProgress: (e) => e.type === 'waiting-for-lock' && waits.push('first') }),
    next.migrateAll({ concurrency: 3, onProgress: (e) => e.type === 'waiting-for-lock' && waits.push('second') }),
  ])
  t.equal(first.tenants.length + second.tenants.length, 8, 'each tenant migrated by exactly one run')
  t.equal(waits.length, 1, 'one run waited for the other')
  const [rows] = await db.sql`
    select count(*)::int as count from public.tenants where migrations = '{"core": 4}'`
  t.equal(rows!.count, 8)
})

t.test('an applied migration whose file changed is an error naming the file', async (t) => {
  const dir = await migrationsCopy(t)
  const { db, services } = await setupServices(t, { migrationsDir: dir })
  await makeTenant(services)
  await appendFile(path.join(dir, 'tenant', '0001_users_and_posts.sql'), '\n-- edited\n')
  const edited = await reload(db.sql, dir)
  await t.rejects(edited.migrateAll(), { code: 'MIGRATION_CHECKSUM_MISMATCH', message: /0001_users_and_posts\.sql/ })
  await t.rejects(edited.tenants.createTenant({ name: 'New', schemaName: 'new_after_edit' }), MigrationError)

  const sharedDir = await migrationsCopy(t)
  await appendFile(path.join(sharedDir, 'shared', '0001_tenant_registry.sql'), '\n-- edited\n')
  await t.rejects((await reload(db.sql, sharedDir)).migrateAll(), { message: /0001_tenant_registry\.sql was changed/ })
})

t.test('a pool of one connection is refused instead of waiting forever', async (t) => {
  const { db } = await setupServices(t)
  const single = createPool(db.url, { max: 1 })
  t.teardown(() => single.end({ timeout: 1 }))
  const services = await createServices({ sql: single, config: FAST_CONFIG })
  await t.rejects(services.migrateAll(), { code: 'POOL_TOO_SMALL' })
})

t.test('a schema switch never outlives its transaction on a pooled connection', async (t) => {
  const { db } = await setupServices(t)
  // One connection: any search_path left behind by a tenant transaction would show here.
  const single = createPool(db.url, { max: 1 })
  t.teardown(() => single.end({ timeout: 1 }))
  const services = await createServices({ sql: single, config: FAST_CONFIG })
  const { tenant } = await makeTenant(services)
  const inside = await single.begin(async (tx) => {
    await useSchema(tx, tenant.schemaName)
    const [row] = await tx`select to_regclass('users') as t`
    return row!.t
  })
  t.equal(inside, 'users', 'inside: the tenant schema is the search path')
  const [after] = await single`select current_setting('search_path') as path`
  t.equal(after!.path, '"$user", public', 'after: the connection is back on the default path')
  const [users] = await single`select to_regclass('users') as t`
  t.equal(users!.t, null, 'tenant tables are not reachable unqualified')
})

t.test('a pending file that does not parse is refused before any tenant is touched', async (t) => {
  const dir = await migrationsCopy(t)
  const { db, services } = await setupServices(t, { migrationsDir: dir })
  const { tenant } = await makeTenant(services)
  await writeFile(path.join(dir, 'tenant', '0004_fine.sql'), 'create table fine (id int primary key);\n')
  await writeFile(path.join(dir, 'tenant', '0005_broken.sql'), 'creat table broken (id int primary key);\n')
  const next = await reload(db.sql, dir)
  t.same(
    (await next.migrationStatus()).tenants[0]?.pending,
    ['core/0004_fine.sql', 'core/0005_broken.sql'],
    'status reads the files without parsing them',
  )
  await t.rejects(next.migrateAll(), { code: 'MIGRATION_SYNTAX', message: /0005_broken\.sql line 1/ })
  const [fine] = await db.sql`select to_regclass(${`${tenant.schemaName}.fine`})::text as found`
  t.equal(fine!.found, null, 'the file before it was not applied either')
  await t.rejects(next.tenants.createTenant({ name: 'New', schemaName: `${tenant.schemaName}_new` }), { code: 'MIGRATION_SYNTAX' })
})
