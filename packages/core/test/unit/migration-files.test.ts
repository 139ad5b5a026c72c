import path from 'node:path'
import t from 'tap'
import {
  DEFAULT_MIGRATIONS_DIR,
  formatState,
  latestState,
  pendingMigrations,
  readMigrationList,
  readMigrations,
  readModuleMigrations,
} from '../../src/index.js'

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
  t.same(latestState(tenant), { core: tenant.at(-1)!.version })
  t.same(latestState([]), {})
})

t.test('each module numbers its own migrations: states, pending lists and their order', async (t) => {
  const dir = t.testdir({
    core: { shared: { '0001_registry.sql': 'select 1;\n' }, tenant: { '0001_users.sql': '', '0002_posts.sql': '' } },
    comments: { tenant: { '0001_comments.sql': '', '0002_likes.sql': '' } },
    settings: { shared: { '0001_settings.sql': '' } },
  })
  const set = await readModuleMigrations(['core', 'comments', 'settings'].map((name) => ({ name, migrations: path.join(dir, name) })))
  t.same(set.modules, ['core', 'comments', 'settings'])
  t.same(
    set.tenant.map((m) => `${m.module}/${m.version}`),
    ['core/1', 'core/2', 'comments/1', 'comments/2'],
    "core's first, then each module's in its order, each numbered from 1",
  )
  t.same(
    set.shared.map((m) => `${m.module}/${m.version}`),
    ['core/1', 'settings/1'],
    'a module without shared/ (or tenant/) has none',
  )
  t.same(latestState(set.tenant), { core: 2, comments: 2 })
  t.same(
    pendingMigrations(set.tenant, { core: 2 }).map((m) => `${m.module}/${m.file}`),
    ['comments/0001_comments.sql', 'comments/0002_likes.sql'],
    'a module added to a deployment is pending from its first file',
  )
  t.same(pendingMigrations(set.tenant, { core: 2, comments: 2 }), [])
  t.equal(formatState({ core: 2, comments: 1 }), 'core 2, comments 1')
  t.equal(formatState({}), 'none')
  await t.rejects(readModuleMigrations([{ name: 'gone', migrations: path.join(dir, 'gone') }]), {
    code: 'MIGRATIONS_UNREADABLE',
    message: /module gone: its migrations folder .* does not exist/,
  })
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
