/**
 * Crash-safe migrations: `tenantctl migrate` killed with SIGKILL at
 * random moments over 50 tenants, 20 times. After every kill each tenant schema is exactly
 * at some version: its ledger, the registry and the objects of each migration agree, and
 * nothing is recorded or applied twice. A rerun then finishes the job. Two concurrent
 * `migrate` processes apply nothing twice.
 *
 * Each trial adds one tenant migration that takes a little while (several statements and a
 * short sleep), so that a kill finds several migration transactions open.
 */
import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { createServices, DEFAULT_MIGRATIONS_DIR, type Sql } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'
import { sleep, spawnCli } from './helpers.js'

const TENANTS = 50
const TRIALS = 20
const TRIAL_ROWS = 500
const CONCURRENCY = 4

/** Tenant migration `version`: a table with rows, an index, a new column, and an audit row. */
function trialMigration(version: number): string {
  return [
    `create table trial_${version} (id integer primary key, note text not null);`,
    `insert into trial_${version} select g, md5(g::text) from generate_series(1, ${TRIAL_ROWS}) g;`,
    `create index trial_${version}_note_idx on trial_${version} (note);`,
    `alter table users add column trial_${version} integer;`,
    'select pg_sleep(0.02);',
    // No unique constraint on purpose: a migration applied twice would leave two rows.
    `insert into public.migration_audit (schema_name, version) values (current_schema(), ${version});`,
    '',
  ].join('\n')
}

interface TenantState {
  schema: string
  registry: number
}

/**
 * Checks that every tenant is exactly at its registry version of core, with the objects of each
 * trial migration present iff it is recorded, and nothing recorded twice. Returns the
 * registry version of each tenant.
 */
async function assertConsistent(t: Test, pool: Sql, trialVersions: readonly number[], label: string): Promise<TenantState[]> {
  // One snapshot for the whole check: what it sees is one instant of the database.
  const { problems, tenants } = await pool.begin('isolation level repeatable read read only', async (sql) => {
    const tenants = await sql<{ schemaName: string; migrationVersion: number }[]>`
      select schema_name, (migrations ->> 'core')::int as migration_version from public.tenants order by id`
    const tables = await sql<{ schema: string; name: string }[]>`
      select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and c.relname like 'trial\\_%'`
    const columns = await sql<{ schema: string; name: string }[]>`
      select n.nspname as schema, a.attname as name from pg_attribute a
      join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where c.relname = 'users' and a.attname like 'trial\\_%' and not a.attisdropped`
    const audit = await sql<{ schemaName: string; version: number; times: number }[]>`
      select schema_name, version, count(*)::int as times from public.migration_audit group by 1, 2`
    const problems: string[] = []
    // Every tenant's ledger in one statement.
    const ledgers = await sql<{ schema: string; version: number }[]>`${tenants
      .map(({ schemaName }) => sql`select ${schemaName}::text as schema, version from ${sql(schemaName)}.schema_migrations where module = 'core'`)
      .reduce((all, one) => sql`${all} union all ${one}`)} order by 1, 2`
    for (const { schemaName: schema, migrationVersion: registry } of tenants) {
      const recorded = ledgers.filter((row) => row.schema === schema).map((row) => row.version)
      const expected = Array.from({ length: registry }, (_, i) => i + 1)
      if (recorded.join() !== expected.join()) problems.push(`${schema}: registry at ${registry}, ledger has [${recorded.join()}]`)
      for (const version of trialVersions) {
        const applied = version <= registry
        const hasTable = tables.some((row) => row.schema === schema && row.name === `trial_${version}`)
        const hasColumn = columns.some((row) => row.schema === schema && row.name === `trial_${version}`)
        const times = audit.find((row) => row.schemaName === schema && row.version === version)?.times ?? 0
        if (hasTable !== applied || hasColumn !== applied || times !== (applied ? 1 : 0)) {
          problems.push(`${schema} (at ${registry}): migration ${version} table=${hasTable} column=${hasColumn} audit rows=${times}`)
        }
      }
    }
    const last = trialVersions.at(-1)
    if (last !== undefined) {
      const at = tenants.filter((row) => row.migrationVersion >= last).map((row) => row.schemaName)
      for (const schema of at) {
        const [row] = await sql<{ count: number }[]>`select count(*)::int as count from ${sql(schema)}.${sql(`trial_${last}`)}`
        if (row?.count !== TRIAL_ROWS) problems.push(`${schema}: trial_${last} has ${row?.count} rows, not ${TRIAL_ROWS}`)
      }
    }
    return { problems, tenants }
  })
  t.same(problems, [], `${label}: every schema exactly at its registry version, nothing half-applied or applied twice`)
  return tenants.map((row) => ({ schema: row.schemaName, registry: row.migrationVersion }))
}

/** Waits until no backend of a killed client is still working (its last statements may still run). */
async function waitForOrphans(sql: Sql): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const [row] = await sql<{ count: number }[]>`
      select count(*)::int as count from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend' and state <> 'idle'`
    if (row?.count === 0) return
    await sleep(25)
  }
  throw new Error('backends of the killed migrator are still busy')
}

function migrationFile(dir: string, version: number): string {
  return path.join(dir, 'tenant', `${String(version).padStart(4, '0')}_trial_${version}.sql`)
}

t.test('tenantctl migrate over 50 tenants', async (t) => {
  const db = await createTestDatabase({ poolMax: 12 })
  t.teardown(() => db.drop())
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  const services = await createServices({ sql: db.sql, migrationsDir: dir })
  await services.migrateAll()
  await db.sql`create table public.migration_audit (schema_name text not null, version integer not null)`
  const suffix = Math.random().toString(36).slice(2, 8)
  for (let i = 0; i < TENANTS; i += 6) {
    await Promise.all(
      Array.from({ length: Math.min(6, TENANTS - i) }, (_, j) =>
        services.tenants.createTenant({ name: `Kill ${suffix} ${i + j}`, schemaName: `kill_${suffix}_${i + j}` }),
      ),
    )
  }
  const trialVersions: number[] = []
  const migrate = (...extra: string[]) =>
    spawnCli(['migrate', ...extra, '--concurrency', String(CONCURRENCY), '--migrations-dir', dir], db.url)

  await t.test('kill -9 at random moments never leaves half a migration; a rerun finishes the job', async (t) => {
    const base = services.migrations.tenant.at(-1)!.version
    const tally = { midRun: 0, openTransactionsAtKill: 0, finishedBeforeKill: 0, byProgress: 0, byClock: 0 }

    for (let trial = 1; trial <= TRIALS; trial++) {
      const version = base + trial
      trialVersions.push(version)
      await writeFile(migrationFile(dir, version), trialMigration(version))

      const run = migrate()
      // Most kills come after a random number of finished tenants (so they land mid-run
      // whatever the machine's speed); every fourth at a random time since the start, which
      // may land while it connects, migrates the shared schema or has just finished.
      if (trial % 4 === 0) {
        tally.byClock++
        await Promise.race([sleep(Math.random() * 1500), run.result])
      } else {
        tally.byProgress++
        const after = Math.floor(Math.random() * (TENANTS - CONCURRENCY))
        while (run.child.exitCode === null && (run.stdout().match(/^\[\d+\/\d+\]/gm)?.length ?? 0) < after) await sleep(2)
        await sleep(Math.random() * 30)
      }
      const [open] = await db.sql<{ count: number }[]>`
        select count(*)::int as count from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend' and xact_start is not null`
      run.child.kill('SIGKILL')
      const killed = await run.result
      if (killed.signal !== 'SIGKILL') {
        tally.finishedBeforeKill++
        t.equal(killed.code, 0, `trial ${trial}: a run that finished before its kill succeeded`, { stderr: killed.stderr })
      }
      tally.openTransactionsAtKill += open?.count ?? 0

      const states = await assertConsistent(t, db.sql, trialVersions, `trial ${trial}, right after the kill`)
      await waitForOrphans(db.sql)
      const settled = await assertConsistent(t, db.sql, trialVersions, `trial ${trial}, once the killed run's backends are gone`)
      const versions = new Set(settled.map((s) => s.registry))
      if (versions.size > 1) tally.midRun++
      t.ok(
        [...versions, ...states.map((s) => s.registry)].every((v) => v === version || v === version - 1),
        `trial ${trial}: each tenant at ${version - 1} or ${version}`,
      )

      const finished = await migrate().result
      t.equal(finished.code, 0, `trial ${trial}: the rerun succeeds`, { stderr: finished.stderr })
      const after = await assertConsistent(t, db.sql, trialVersions, `trial ${trial}, after the rerun`)
      t.ok(
        after.every((s) => s.registry === version),
        `trial ${trial}: the rerun brought every tenant to ${version}`,
      )
    }

    t.comment(
      `${TRIALS} kills (${tally.byProgress} after a random number of tenants, ${tally.byClock} at a random time): ` +
        `${tally.midRun} left tenants at two versions, ${tally.finishedBeforeKill} came after the run had finished, ` +
        `${tally.openTransactionsAtKill} transactions were open at the kills`,
    )
    // The test is worth only as much as its kills: most must land in the middle of a run.
    t.ok(tally.midRun >= TRIALS / 2, `at least half the kills landed mid-run (${tally.midRun} of ${TRIALS})`)
    t.ok(tally.openTransactionsAtKill > TRIALS, `kills found migration transactions open (${tally.openTransactionsAtKill} in all)`)
  })

  await t.test('two concurrent migrate processes apply nothing twice', async (t) => {
    const version = (trialVersions.at(-1) ?? services.migrations.tenant.at(-1)!.version) + 1
    trialVersions.push(version)
    await writeFile(migrationFile(dir, version), trialMigration(version))

    // Hold the migrators' lock so that both processes are surely running, and waiting, at
    // once; then let them race for it.
    const holder = await db.sql.reserve()
    await holder`select pg_advisory_lock(hashtext('tenantbase:migrate'))`
    const runs = [migrate('--json'), migrate('--json')]
    const waiting = async () => {
      const [row] = await db.sql<{ count: number }[]>`
        select count(*)::int as count from pg_locks
        where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`
      return row?.count ?? 0
    }
    for (let i = 0; i < 600 && (await waiting()) < 2; i++) await sleep(50)
    t.equal(await waiting(), 2, 'both processes wait for the migration lock')
    await holder`select pg_advisory_unlock(hashtext('tenantbase:migrate'))`
    holder.release()

    const results = await Promise.all(runs.map((run) => run.result))
    for (const result of results) t.equal(result.code, 0, 'each run succeeds', { stderr: result.stderr })
    const reports = results.map((result) => JSON.parse(result.stdout) as { tenants: { schema: string; ok: boolean }[] })
    const migrated = reports.flatMap((report) => report.tenants.map((row) => row.schema))
    t.equal(migrated.length, TENANTS, 'the two runs migrated all the tenants between them')
    t.equal(new Set(migrated).size, TENANTS, 'each by exactly one run')
    t.same(
      reports.map((r) => r.tenants.length).sort((a, b) => a - b),
      [0, TENANTS],
      'the second run found nothing left to do',
    )
    const states = await assertConsistent(t, db.sql, trialVersions, 'after both runs')
    t.ok(
      states.every((s) => s.registry === version),
      `every tenant at ${version}`,
    )
  })
})
