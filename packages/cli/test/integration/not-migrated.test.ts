import { rm } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { createTestDatabase, freePort } from '@tenantbase/core/testing'
import { parseJson, runCli } from '../helpers.js'

// Before the first `tenantctl migrate`, every command that needs the registry says what
// `status` says (run `tenantctl migrate`), on a server or on a fresh embedded cluster.

const NOT_MIGRATED = /the database is not migrated \(shared schema at none, its files reach core \d+\): run `tenantctl migrate` first/

t.test('a server never migrated: create, list and keys create say to run migrate', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const commands = [
    ['create', '--name', 'Acme', '--address', '', '--schema', 'acme'],
    ['list'],
    ['keys', 'create', 'acme', '--name', 'ci'],
    ['suspend', 'acme'],
  ]
  for (const args of commands) {
    const result = await runCli(args, { url: db.url })
    t.equal(result.code, 1, `${args.join(' ')}: exit 1`)
    t.match(result.stderr, NOT_MIGRATED, `${args.join(' ')}: says to migrate`)
    t.notMatch(result.stderr, /unexpected|does not exist|--verbose/, `${args.join(' ')}: no raw SQL error`)
  }
  const json = await runCli(['list', '--json'], { url: db.url })
  t.equal(json.code, 1)
  t.equal(parseJson<{ error: { code: string } }>(t, json).error.code, 'NOT_MIGRATED')

  const migrated = await runCli(['migrate'], { url: db.url })
  t.equal(migrated.code, 0, migrated.stderr)
  const created = await runCli(['create', '--name', 'Acme', '--address', '', '--schema', 'acme'], { url: db.url })
  t.equal(created.code, 0, `after migrate it works: ${created.stderr}`)
})

t.test('a fresh embedded cluster: the cluster this command started is asked before it stops', async (t) => {
  const dataDir = path.join(t.testdir(), 'data')
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '', POSTGRES_HOST: '' }
  const created = await runCli(['create', '--name', 'A', '--address', '', '--schema', 'a'], { env, guardMs: 120_000 })
  t.equal(created.code, 1, created.stderr)
  t.match(created.stderr, NOT_MIGRATED)
  t.notMatch(created.stderr, /unreachable|ECONNREFUSED/, 'not "database unreachable"')
  const listed = await runCli(['list'], { env, guardMs: 120_000 })
  t.equal(listed.code, 1, listed.stderr)
  t.match(listed.stderr, NOT_MIGRATED)
  const status = await runCli(['status'], { env, guardMs: 120_000 })
  t.equal(status.code, 1)
  t.match(status.stderr, /run `tenantctl migrate`/, 'as status says')
})
