import { spawn } from 'node:child_process'
import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { DEFAULT_MIGRATIONS_DIR } from '@tenantbase/core'
import { BIN, childEnv, randomSchema, setupDatabase } from '../helpers.js'

// Ctrl-C (SIGINT) in the middle of a creation: the transaction rolls back, nothing is left.

t.test('SIGINT during a creation exits 130 and leaves no row, schema or key', async (t) => {
  const dir = t.testdir()
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  // A tenant migration that holds the creation's transaction open until we interrupt it.
  await writeFile(path.join(dir, 'tenant', '0099_slow.sql'), 'create table slow (id int primary key);\nselect pg_sleep(60);\n')
  const { db } = await setupDatabase(t, { migrationsDir: dir })
  const schema = randomSchema('sigint')

  const child = spawn(process.execPath, [BIN, 'create', '--name', 'Interrupted', '--address', '', '--schema', schema], {
    env: childEnv({ DATABASE_URL: db.url, TENANTCTL_MIGRATIONS_DIR: dir }),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)

  // Wait until the creation is inside its transaction, at the slow migration's second statement.
  for (;;) {
    const [row] = await db.sql`
      select count(*)::int as count from pg_stat_activity
      where datname = current_database() and state = 'active' and query like 'select pg_sleep(60)%'`
    if (row!.count > 0) break
    if (child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(child.exitCode, null, 'the creation was still running')
  const [inside] = await db.sql`select count(*)::int as count from public.tenants`
  t.equal(inside!.count, 0, 'uncommitted: no other session sees the row yet')

  child.kill('SIGINT')
  const code = await exited
  clearTimeout(guard)
  t.equal(code, 130, 'exit 130')
  t.match(stderr, /interrupted/)

  // Nothing was committed: the server may still be running the sleep, but that transaction
  // can only roll back now that its client is gone.
  const [tenants] = await db.sql`select count(*)::int as count from public.tenants`
  const [keys] = await db.sql`select count(*)::int as count from public.api_keys`
  const [schemas] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schema}`
  t.same([tenants!.count, keys!.count, schemas!.count], [0, 0, 0], 'nothing half-created')
})
