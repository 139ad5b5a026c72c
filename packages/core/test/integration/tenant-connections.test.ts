import t from 'tap'
import {
  createPool,
  createServices,
  createTenantConnections,
  DatabaseUnavailableError,
  loadConfig,
  openDatabase,
  TenantGoneError,
  ValidationError,
  type Sql,
} from '../../src/index.js'
import { createTestDatabase, freePort } from '../../src/testing.js'
import { FAST_CONFIG, makeTenant } from './../helpers.js'

/** How the driver reports a query whose backend was terminated. */
const CLOSED = ['57P01', 'CONNECTION_CLOSED']
const backendOf = async (sql: Sql) => (await sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid

t.test("each tenant's queries run on its home connection; a busy home sends the next ones elsewhere", async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const connections = createTenantConnections(3, (onClose) => createPool(db.url, { max: 1, onClose }), 2)
  t.teardown(() => connections.end({ timeout: 1 }))
  t.equal(connections.size, 3)

  const homes = new Map<number, Set<number>>()
  for (let round = 0; round < 4; round++) {
    for (let tenantId = 1; tenantId <= 6; tenantId++) {
      const pid = await connections.use(tenantId, backendOf)
      homes.set(tenantId, (homes.get(tenantId) ?? new Set()).add(pid))
    }
  }
  t.same(
    [...homes.values()].map((pids) => pids.size),
    [1, 1, 1, 1, 1, 1],
    'a tenant always meets the same server connection',
  )
  const pidOf = (tenantId: number) => [...homes.get(tenantId)!][0]!
  t.equal(pidOf(1), pidOf(4), 'tenants 1 and 4 share a home (id modulo 3)')
  t.equal(new Set([pidOf(1), pidOf(2), pidOf(3)]).size, 3, 'three homes for tenants 1, 2 and 3')
  t.equal(connections.detours(), 0, 'no detour while nothing waits')

  // Two slow queries fill tenant 1's home (detour at 2 waiting): the next query of tenant 1
  // runs elsewhere and is answered while the home is still busy.
  let slowDone = false
  const slow = Promise.all([1, 2].map(() => connections.use(1, (sql) => sql`select pg_sleep(0.5)`))).then(() => {
    slowDone = true
  })
  const pid = await connections.use(1, backendOf)
  t.not(pid, pidOf(1), 'the query went to another connection')
  t.notOk(slowDone, 'and did not wait for the busy home')
  t.equal(connections.detours(), 1, 'counted as a detour')
  await slow
})

t.test('a home connection that lost its server takes one reconnection attempt; the rest detour', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const connections = createTenantConnections(2, (onClose) => createPool(db.url, { max: 1, onClose }))
  t.teardown(() => connections.end({ timeout: 1 }))
  const homePid = await connections.use(2, backendOf)
  const otherPid = await connections.use(1, backendOf)

  // Tenant 2's home is killed under a running query: a connection error marks it down.
  // Its error is caught at once: it may arrive before pg_terminate_backend's answer does,
  // and a rejection with no handler yet would be reported as unhandled.
  const sleeping = connections.use(2, (sql) => sql`select pg_sleep(30)`).catch((error: unknown) => error)
  await db.sql`select pg_terminate_backend(${homePid}::int)`
  const killed = (await sleeping) as { code?: string }
  t.ok(CLOSED.includes(killed.code!), `the query of the killed backend fails with a connection error (${killed.code})`)

  const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => connections.use(2, backendOf)))
  const answered = outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as { code: string }).code))
  t.equal(answered.filter((pid) => pid === otherPid).length, 9, 'nine of ten queries meanwhile ran on the other connection')
  // NOTE: postgres.js may report the killed backend's FATAL to the first query of the new
  // connection: the attempt either answers from a new backend or fails as a lost connection.
  const attempt = answered.find((pid) => pid !== otherPid)
  t.ok(
    CLOSED.includes(attempt as string) || (typeof attempt === 'number' && attempt !== homePid),
    `one reconnected the home connection (${attempt})`,
  )
  t.equal(connections.detours(), 9, 'counted as detours')
  let pid = await connections.use(2, backendOf).catch(() => connections.use(2, backendOf))
  t.ok(pid !== homePid && pid !== otherPid, 'the home is up again on a new backend and serves its tenant')
  pid = await connections.use(2, backendOf)
  t.not(pid, otherPid)
  t.equal(connections.detours(), 9, 'no detour since')
})

t.test('with the database gone, queued tenant queries fail at once instead of waiting their turn to reconnect', async (t) => {
  // A port nothing listens on: every connection attempt is refused, as while PostgreSQL is stopped.
  const url = `postgres://nobody:nothing@127.0.0.1:${await freePort()}/gone`
  const connections = createTenantConnections(3, (onClose) => createPool(url, { max: 1, onClose }))
  t.teardown(() => connections.end({ timeout: 1 }))
  await t.rejects(
    connections.use(0, (sql) => sql`select 1`),
    { code: 'ECONNREFUSED' },
    'the first query meets the refusal',
  )

  for (let round = 0; round < 3; round++) {
    const start = performance.now()
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => connections.use(i, (sql) => sql`select 1`)))
    const slowest = performance.now() - start
    const errors = outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as Error) : undefined))
    t.ok(
      errors.every((error) => error !== undefined),
      `round ${round + 1}: all 40 fail`,
    )
    const attempts = errors.filter((error) => !(error instanceof DatabaseUnavailableError))
    t.ok(attempts.length <= 3, `at most one reconnection attempt per connection (${attempts.length})`)
    t.ok(
      attempts.every((error) => (error as { code?: string }).code === 'ECONNREFUSED'),
      'each attempt meets the refusal',
    )
    t.equal(errors.length - attempts.length, 40 - attempts.length, 'the others fail as database unavailable without queuing')
    // A hang guard, far above the milliseconds this takes: the pool's backoff is at most 250 ms.
    t.ok(slowest < 5000, `answered in ${slowest.toFixed(0)} ms`)
  }
})

t.test('tenant queries report driver errors as core errors', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql, tenantConnections: db.tenantConnections, config: FAST_CONFIG })
  await services.migrateAll()
  const { tenant } = await makeTenant(services)

  // The schema dropped behind the registry's back: the registry still has the tenant, so the
  // missing table is reported as what it is (a broken tenant), not as a deleted one.
  await db.sql.unsafe(`drop table "${tenant.schemaName}".posts`)
  const broken = await services.posts.listPosts(tenant).catch((error: unknown) => error)
  t.notOk(broken instanceof TenantGoneError, 'a registered tenant with a missing table is not a deleted tenant')
  t.equal((broken as { code?: string }).code, '42P01', 'the undefined-table error stands')

  // Deleted by another process: the registry no longer has it.
  await db.sql`delete from public.tenants where id = ${tenant.id}`
  const gone = await services.posts.listPosts(tenant).catch((error: unknown) => error)
  t.type(gone, TenantGoneError, 'a deleted tenant is a TenantGoneError')
  t.equal((gone as TenantGoneError).code, 'INVALID_API_KEY', 'whose code is an invalid api key')

  // The database gone: every service reports DatabaseUnavailableError.
  const deadUrl = `postgres://postgres:postgres@127.0.0.1:${await freePort()}/none`
  const dead = createPool(deadUrl, { max: 1 })
  const deadConnections = createTenantConnections(1, (onClose) => createPool(deadUrl, { max: 1, onClose }))
  t.teardown(() => Promise.all([dead.end({ timeout: 0 }), deadConnections.end({ timeout: 0 })]))
  const unreachable = await createServices({ sql: dead, tenantConnections: deadConnections, migrations: services.migrations })
  for (const [what, call] of [
    ['a tenant query', () => unreachable.posts.listPosts(tenant)],
    ['a shared-schema query', () => unreachable.tenants.listTenants()],
    ['a services method', () => unreachable.migrationStatus()],
  ] as const) {
    const error = await call().catch((failure: unknown) => failure)
    t.type(error, DatabaseUnavailableError, `${what}: DatabaseUnavailableError`)
    t.match((error as Error).message, /^database unreachable: /, `${what}: says so`)
  }
})

t.test('openDatabase homes tenants on DB_TENANT_CONNECTIONS connections, or on the pool with 0', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  for (const [setting, size] of [
    ['4', 4],
    ['0', 0],
  ] as const) {
    const config = loadConfig({ DATABASE_URL: db.url, DB_TENANT_CONNECTIONS: setting, JWT_SECRET: 'x'.repeat(32) })
    const opened = await openDatabase(config.database)
    t.equal(opened.tenantConnections.size, size, `DB_TENANT_CONNECTIONS=${setting}`)
    if (size > 0) {
      const pids = new Set(await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((id) => opened.tenantConnections.use(id, backendOf))))
      t.equal(pids.size, size, `tenants 1 to 8 meet ${size} server connections`)
    } else {
      t.equal(await opened.tenantConnections.use(1, async (sql) => sql === opened.sql), true, 'tenant queries run on the shared pool')
    }
    await opened.close()
  }
})

t.test(
  'home connections plan prepared tenant statements once (DB_TENANT_PLAN_CACHE_MODE), the shared pool as the server says',
  async (t) => {
    const db = await createTestDatabase()
    t.teardown(() => db.drop())
    const modeOf = async (sql: Sql) => (await sql<{ mode: string }[]>`select current_setting('plan_cache_mode') as mode`)[0]!.mode
    for (const [env, expected] of [
      [{}, 'force_generic_plan'],
      [{ DB_TENANT_PLAN_CACHE_MODE: 'auto' }, 'auto'],
      // Unprepared (a transaction-mode PgBouncer, which refuses unknown startup parameters): nothing is sent.
      [{ DB_PREPARED_STATEMENTS: 'false' }, 'auto'],
    ] as const) {
      const config = loadConfig({ DATABASE_URL: db.url, JWT_SECRET: 'x'.repeat(32), ...env })
      const opened = await openDatabase(config.database)
      t.equal(await opened.tenantConnections.use(7, modeOf), expected, `${JSON.stringify(env)}: a home connection's mode`)
      t.equal(await modeOf(opened.sql), 'auto', `${JSON.stringify(env)}: the shared pool keeps the server's`)
      await opened.close()
    }
    t.throws(
      () => loadConfig({ DATABASE_URL: db.url, JWT_SECRET: 'x'.repeat(32), DB_TENANT_PLAN_CACHE_MODE: 'force_custom_plan' }),
      /DB_TENANT_PLAN_CACHE_MODE/,
    )
  },
)

t.test('replaceWhere swaps the home connections it is told to for new ones; queries in flight finish', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const connections = createTenantConnections(2, (onClose) => createPool(db.url, { max: 1, onClose }))
  t.teardown(() => connections.end({ timeout: 1 }))
  const before = await Promise.all([0, 1].map((home) => connections.use(home, backendOf)))
  const slow = connections.use(0, (sql) => sql<{ done: number }[]>`select 1 as done from pg_sleep(0.3)`)
  const replaced = await connections.replaceWhere(async (sql) => (await backendOf(sql)) === before[0])
  t.equal(replaced, 1, 'one connection was over')
  t.equal(connections.replacements(), 1)
  t.same(await slow, [{ done: 1 }], 'the query sent before the swap finished on the old connection')
  const after = await Promise.all([0, 1].map((home) => connections.use(home, backendOf)))
  t.not(after[0], before[0], 'home 0 has a new server connection')
  t.equal(after[1], before[1], 'home 1 kept its own')
  t.equal(await connections.replaceWhere(async () => false), 0, 'nothing over, nothing replaced')
})

t.test('DB_TENANT_CONNECTION_MAX_MB replaces a home connection whose backend holds more', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const problems: string[] = []
  const open = (env: Record<string, string>) =>
    openDatabase(loadConfig({ DATABASE_URL: db.url, JWT_SECRET: 'x'.repeat(32), DB_TENANT_CONNECTIONS: '2', ...env }).database, {
      tenantConnectionCheckMs: 50,
      onProblem: (message) => problems.push(message),
    })
  // Any backend holds more than 1 MB of memory contexts: each check replaces both homes.
  const tight = await open({ DB_TENANT_CONNECTION_MAX_MB: '1' })
  const first = await tight.tenantConnections.use(0, backendOf)
  const deadline = Date.now() + 10_000
  while (tight.tenantConnections.replacements() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.ok(tight.tenantConnections.replacements() > 0, 'a connection over the bound was replaced')
  t.not(await tight.tenantConnections.use(0, backendOf), first, 'the tenant now meets another server connection')
  await tight.close()
  // A generous bound, and none: nothing is replaced.
  for (const env of [{ DB_TENANT_CONNECTION_MAX_MB: '100000' }, {}] as Record<string, string>[]) {
    const roomy = await open(env)
    const pid = await roomy.tenantConnections.use(0, backendOf)
    await new Promise((r) => setTimeout(r, 300))
    t.equal(await roomy.tenantConnections.use(0, backendOf), pid, `${JSON.stringify(env)}: the same connection`)
    t.equal(roomy.tenantConnections.replacements(), 0)
    await roomy.close()
  }
  t.same(problems, [])

  // A role that may not read its backend's memory: said once, and nothing is replaced.
  const role = `tb_nostats_${process.pid}`
  await db.sql`create role ${db.sql(role)} login password 'not-a-secret'`
  t.teardown(() => db.sql`drop role if exists ${db.sql(role)}`.then(() => undefined))
  const asRole = new URL(db.url)
  asRole.username = role
  asRole.password = 'not-a-secret'
  const denied = await open({ DATABASE_URL: asRole.toString(), DB_TENANT_CONNECTION_MAX_MB: '1' })
  await denied.tenantConnections.use(0, backendOf)
  const until = Date.now() + 10_000
  while (problems.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  await new Promise((r) => setTimeout(r, 200))
  t.equal(problems.length, 1, 'the problem is told once')
  t.match(problems[0], /GRANT pg_read_all_stats/, 'it names the fix')
  t.equal(denied.tenantConnections.replacements(), 0)
  await denied.close()
})

t.test('inTenant names the tenant once: its connection, and its schema validated and escaped', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql, tenantConnections: db.tenantConnections, config: FAST_CONFIG })
  await services.migrateAll()
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'once@example.com', name: 'Once', password: 'a long password' })
  const [row] = await services.inTenant(
    tenant,
    ({ sql, schema }) => sql<{ email: string }[]>`select email from ${schema}.users where id = ${user.id}`,
  )
  t.equal(row?.email, 'once@example.com', "the schema handed over is the tenant's")

  let ran = false
  const refused = await services
    .inTenant({ id: tenant.id, schemaName: `${tenant.schemaName}"; drop table users; --` }, async () => {
      ran = true
    })
    .catch((error: unknown) => error)
  t.type(refused, ValidationError)
  t.equal((refused as ValidationError).code, 'INVALID_SCHEMA_NAME', 'a bad schema name is refused')
  t.notOk(ran, 'before any work runs')
})
