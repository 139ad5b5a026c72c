import t from 'tap'
import { randomSchema, setupDatabase, slowTenantMigrations, startSlowCreation } from '../helpers.js'

// Ctrl-C (SIGINT) in the middle of a creation: the transaction rolls back, nothing is left.

t.test('SIGINT during a creation exits 130 and leaves no row, schema or key', async (t) => {
  const dir = await slowTenantMigrations(t)
  const { db } = await setupDatabase(t, { migrationsDir: dir })
  const schema = randomSchema('sigint')

  // Once the creation is inside its transaction, at the slow migration:
  const { child, stderr, exited } = await startSlowCreation(db, ['--name', 'Interrupted', '--address', '', '--schema', schema], {
    DATABASE_URL: db.url,
    TENANTCTL_MIGRATIONS_DIR: dir,
  })
  t.equal(child.exitCode, null, 'the creation was still running')
  const [inside] = await db.sql`select count(*)::int as count from public.tenants`
  t.equal(inside!.count, 0, 'uncommitted: no other session sees the row yet')

  child.kill('SIGINT')
  t.equal(await exited, 130, 'exit 130')
  t.match(stderr(), /interrupted/)

  // Nothing was committed: the server may still be running the sleep, but that transaction
  // can only roll back now that its client is gone.
  const [tenants] = await db.sql`select count(*)::int as count from public.tenants`
  const [keys] = await db.sql`select count(*)::int as count from public.api_keys`
  const [schemas] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schema}`
  t.same([tenants!.count, keys!.count, schemas!.count], [0, 0, 0], 'nothing half-created')
})
