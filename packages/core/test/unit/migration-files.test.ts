import path from 'node:path'
import t from 'tap'
import { DEFAULT_MIGRATIONS_DIR, latestVersion, readMigrationList, readMigrations } from '../../src/index.js'

t.test('core ships numbered shared and tenant migrations', async (t) => {
  const { shared, tenant } = await readMigrations(DEFAULT_MIGRATIONS_DIR)
  t.ok(shared.length >= 1 && tenant.length >= 1)
  for (const list of [shared, tenant]) {
    t.same(
      list.map((m) => m.version),
      [...list.map((m) => m.version)].sort((a, b) => a - b),
      'in version order',
    )
    for (const m of list) t.match(m.checksum, /^[0-9a-f]{64}$/)
  }
  t.equal(latestVersion(tenant), tenant.at(-1)!.version)
  t.equal(latestVersion([]), 0)
})

t.test('checksums ignore line endings but nothing else', async (t) => {
  const dir = t.testdir({ a: { '0001_x.sql': 'select 1;\n' }, b: { '0001_x.sql': 'select 1;\r\n' }, c: { '0001_x.sql': 'select 2;\n' } })
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((d) => readMigrationList(path.join(dir, d))))
  t.equal(a![0]!.checksum, b![0]!.checksum)
  t.not(a![0]!.checksum, c![0]!.checksum)
})

t.test('versions order numerically, whatever their zero padding', async (t) => {
  const dir = t.testdir({ '0010_c.sql': '', '002_b.sql': '', '1_a.sql': '' })
  t.same(
    (await readMigrationList(dir)).map((m) => m.version),
    [1, 2, 10],
  )
})

t.test('badly named or duplicated files are refused, naming the file', async (t) => {
  const dir = t.testdir({ bad: { '0001_ok.sql': '', 'add users.sql': '' }, dup: { '0001_a.sql': '', '001_b.sql': '' } })
  await t.rejects(readMigrationList(path.join(dir, 'bad')), { code: 'MIGRATION_FILE_NAME', message: /add users\.sql/ })
  await t.rejects(readMigrationList(path.join(dir, 'dup')), { code: 'MIGRATION_FILE_NAME', message: /share version 1/ })
  await t.rejects(readMigrationList(path.join(dir, 'missing')), { code: 'MIGRATIONS_UNREADABLE' })
})
