import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { ValidationError, createPool, createServices, type Sql } from '../../src/index.js'
import { createTestDatabase, freePort } from '../../src/testing.js'
import { FAST_CONFIG, makeTenant } from '../helpers.js'

/**
 * postgres.js is used as published. A value must be stored the same way whichever path its
 * statement takes: its first use on a connection (described, then prepared), a prepared
 * one, the first use on a connection that replaced an old one (max_lifetime), and a pool
 * that prepares nothing (as behind a transaction-mode PgBouncer, tested through a real one
 * at the end when the machine has pgbouncer). Each case below has a
 * column of its own, so each has its own statement text and its first use is a real one.
 */
interface Case {
  readonly name: string
  readonly type: string
  readonly value: (sql: Sql) => unknown
  /** What the server stores (its text form), or the SQLSTATE it refuses the value with. */
  readonly stored: string | { readonly error: string }
}

const when = new Date('2026-11-27T12:34:56.789Z')
const cases: Case[] = [
  { name: 'jsonb object', type: 'jsonb', value: () => ({ a: 1, b: [true, null, 'x'] }), stored: '{"a": 1, "b": [true, null, "x"]}' },
  { name: 'jsonb array', type: 'jsonb', value: (sql) => sql.json([1, 'two', { three: 3 }]), stored: '[1, "two", {"three": 3}]' },
  // postgres.js serialises whatever it is given for a json column with JSON.stringify: a
  // string that looks like JSON is stored as a JSON string, on every path.
  { name: 'jsonb string that looks like JSON', type: 'jsonb', value: () => '{"a":1}', stored: '"{\\"a\\":1}"' },
  { name: 'jsonb string', type: 'jsonb', value: () => 'plain', stored: '"plain"' },
  { name: 'json object', type: 'json', value: () => ({ a: 1, b: [true, null] }), stored: '{"a":1,"b":[true,null]}' },
  // sql.json sends the value as jsonb, so a json column keeps jsonb's text form.
  { name: 'json array', type: 'json', value: (sql) => sql.json([1, 2]), stored: '[1, 2]' },
  { name: 'json string that looks like JSON', type: 'json', value: () => '[1,2]', stored: '"[1,2]"' },
  { name: 'boolean true', type: 'boolean', value: () => true, stored: 'true' },
  { name: 'boolean false', type: 'boolean', value: () => false, stored: 'false' },
  // postgres.js 4 leaves a parameter's type to the server, which reads the strings as booleans
  // (3.x sent `t` only for `true`, so both strings were stored as false).
  { name: "boolean from the string 'true'", type: 'boolean', value: () => 'true', stored: 'true' },
  { name: "boolean from the string 'false'", type: 'boolean', value: () => 'false', stored: 'false' },
  { name: 'timestamptz from a Date', type: 'timestamptz', value: () => when, stored: '2026-11-27 12:34:56.789+00' },
  { name: 'timestamptz from an ISO string', type: 'timestamptz', value: () => when.toISOString(), stored: '2026-11-27 12:34:56.789+00' },
  { name: 'timestamptz from epoch milliseconds', type: 'timestamptz', value: () => when.getTime(), stored: '2026-11-27 12:34:56.789+00' },
  {
    name: 'numeric from a string',
    type: 'numeric',
    value: () => '12345678901234567890.123456789',
    stored: '12345678901234567890.123456789',
  },
  { name: 'numeric from a number', type: 'numeric', value: () => 1.5, stored: '1.5' },
  { name: 'bigint from a number', type: 'bigint', value: () => Number.MAX_SAFE_INTEGER, stored: '9007199254740991' },
  { name: 'bigint from a string', type: 'bigint', value: () => '-42', stored: '-42' },
  // postgres.js 4 removed sql.array(): an array is passed as it is, typed by the server.
  { name: 'int[]', type: 'int[]', value: () => [4, 5], stored: '{4,5}' },
  { name: 'bigint[]', type: 'bigint[]', value: () => [1, Number.MAX_SAFE_INTEGER], stored: '{1,9007199254740991}' },
  {
    name: 'text[]',
    type: 'text[]',
    value: () => ['a', 'b,c', 'with "quotes"', ''],
    stored: '{a,"b,c","with \\"quotes\\"",""}',
  },
  { name: 'bytea', type: 'bytea', value: () => Buffer.from([0, 1, 127, 255]), stored: '\\x00017fff' },
  { name: 'text', type: 'text', value: () => 'héllo ✓', stored: 'héllo ✓' },
  // PostgreSQL's text cannot hold U+0000: the server refuses it (character_not_in_repertoire).
  { name: 'text with a NUL byte', type: 'text', value: () => 'a\u0000b', stored: { error: '22021' } },
]
const column = (i: number) => `c${i}`

type Outcome = { text: string | null; pid: number } | { error: string }

async function setup(t: Test) {
  const db = await createTestDatabase({ poolMax: 1 })
  t.teardown(() => db.drop())
  await db.sql.unsafe(`create table stored (path text not null, ${cases.map((c, i) => `${column(i)} ${c.type}`).join(', ')})`)
  const pool = (options: Parameters<typeof createPool>[1]) => {
    const sql = createPool(db.url, { max: 1, ...options })
    t.teardown(() => sql.end({ timeout: 1 }))
    return sql
  }
  return { db, pool }
}

/** Inserts each case's value through `sql` as `path`; the server's text of what it stored. */
async function storeEach(sql: Sql, path: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  for (const [i, c] of cases.entries()) {
    const col = sql(column(i))
    try {
      const [row] = await sql<{ text: string | null; pid: number }[]>`
        insert into stored (path, ${col}) values (${path}, ${c.value(sql) as never}) returning ${col}::text as text, pg_backend_pid() as pid`
      outcomes.push(row!)
    } catch (error) {
      outcomes.push({ error: String((error as { code?: unknown }).code) })
    }
  }
  return outcomes
}

const storedOf = (outcome: Outcome) => ('error' in outcome ? { error: outcome.error } : outcome.text)
const pidOf = (outcomes: Outcome[]) => new Set(outcomes.flatMap((o) => ('pid' in o ? [o.pid] : [])))

async function preparedNames(sql: Sql): Promise<string[]> {
  const rows = await sql<{ statement: string }[]>`select statement from pg_prepared_statements`
  return rows.map((row) => row.statement)
}

t.test('every value is stored the same way on every path', async (t) => {
  const { db, pool } = await setup(t)
  const prepared = pool({ prepare: true })
  const paths: Record<string, Outcome[]> = {}
  const firstUse = (paths['first use'] = await storeEach(prepared, 'first use'))
  const preparedUse = (paths['prepared'] = await storeEach(prepared, 'prepared'))
  const statements = await preparedNames(prepared)
  const unpreparedCases = cases.filter((_, i) => 'text' in preparedUse[i]! && !statements.some((s) => s.includes(`"${column(i)}"`)))
  t.same(unpreparedCases, [], 'each case stored on the prepared path ran as a prepared statement')
  t.same(pidOf(preparedUse), pidOf(firstUse), 'both on one connection')

  // The connection is replaced when its lifetime ends; the new one has prepared nothing yet.
  const shortLived = pool({ prepare: true, maxLifetimeSeconds: 1 })
  const before = await storeEach(shortLived, 'before replacement')
  const oldPid = (await shortLived<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid
  const deadline = Date.now() + 30_000
  while ((await shortLived<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid === oldPid) {
    if (Date.now() > deadline) throw new Error('the connection was not replaced within 30 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.same(
    (await preparedNames(shortLived)).filter((s) => s.includes('insert into stored')),
    [],
    'the replacing connection starts with none of them prepared',
  )
  paths['fresh connection after max_lifetime'] = await storeEach(shortLived, 'fresh connection')
  t.notOk(pidOf(paths['fresh connection after max_lifetime']).has(oldPid), 'on the new connection')
  t.same(before.map(storedOf), firstUse.map(storedOf), 'the short-lived pool stored the same before its replacement')

  const unprepared = pool({ prepare: false })
  paths['unprepared'] = await storeEach(unprepared, 'unprepared')
  t.same(await preparedNames(unprepared), [], 'the unprepared pool prepared nothing')

  for (const [i, c] of cases.entries()) {
    const byPath = Object.fromEntries(Object.entries(paths).map(([path, outcomes]) => [path, storedOf(outcomes[i]!)]))
    for (const [path, stored] of Object.entries(byPath)) t.same(stored, c.stored, `${c.name}: ${path}`)
  }

  // What reached the table agrees with what each insert answered: one row per path and
  // success, nothing for a refused value.
  const rows = await db.sql.unsafe(
    `select path, ${cases.map((_, i) => `${column(i)}::text as ${column(i)}`).join(', ')} from stored where path <> 'before replacement'`,
  )
  for (const [i, c] of cases.entries()) {
    const values = rows.filter((row) => row[column(i)] !== null).map((row) => row[column(i)] as string)
    t.same(values, typeof c.stored === 'string' ? Array(4).fill(c.stored) : [], `${c.name}: in the table`)
  }
})

t.test('values read back are the same on every path', async (t) => {
  const { pool } = await setup(t)
  const read = async (sql: Sql) => {
    const [row] = await sql`
      select ${{ a: [1, 'b'] } as never}::jsonb as doc, ${true}::boolean as yes, ${true} as yes_uncast, ${when}::timestamptz as at,
             ${Buffer.from([0, 255])}::bytea as bytes, ${[1, 2]}::int[] as ints, ${'12.50'}::numeric as amount,
             ${Number.MAX_SAFE_INTEGER}::bigint as big`
    return row
  }
  const expected = {
    doc: { a: [1, 'b'] },
    yes: true,
    // postgres.js 4: a value only selected back, with no cast, is text to the server (3.x sent a boolean).
    yesUncast: 'true',
    at: when,
    bytes: Buffer.from([0, 255]),
    ints: [1, 2],
    amount: '12.50',
    big: Number.MAX_SAFE_INTEGER,
  }
  const prepared = pool({ prepare: true })
  t.same(await read(prepared), expected, 'first use')
  t.same(await read(prepared), expected, 'prepared')
  t.same(await read(pool({ prepare: false })), expected, 'unprepared')
})

t.test('text with a NUL byte is a ValidationError in core, and writes nothing, on either pool', async (t) => {
  const { pool } = await setup(t)
  for (const prepare of [true, false]) {
    const sql = pool({ prepare, max: 2 })
    const services = await createServices({ sql, config: FAST_CONFIG })
    await services.migrateAll()
    const { tenant } = await makeTenant(services)
    const user = await services.users.registerUser(tenant, { email: 'nul@example.com', password: 'password1' })
    await t.rejects(
      services.posts.createPost(tenant, user.id, { title: 'a\u0000b', body: 'c' }),
      ValidationError,
      `title, prepare ${prepare}`,
    )
    await t.rejects(
      services.posts.createPost(tenant, user.id, { title: 'ok', body: '\u0000' }),
      ValidationError,
      `body, prepare ${prepare}`,
    )
    await t.rejects(services.users.registerUser(tenant, { email: 'a\u0000@example.com', password: 'password1' }), ValidationError)
    t.same((await services.posts.listPosts(tenant)).results, [], 'no post was written')
  }
})

/**
 * A PgBouncer in transaction mode in front of `target`. It hands each transaction any server connection, so a statement
 * prepared through one is unknown to the next (PgBouncer before 1.21).
 */
const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'].find((file) => existsSync(file))

async function startPgBouncer(t: Test, binary: string, target: URL): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tenantbase-pgbouncer-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const user = decodeURIComponent(target.username)
  // Without a password (a server that trusts its clients), PgBouncer trusts them too: asked for one, the client has none.
  const password = decodeURIComponent(target.password) || process.env.PGPASSWORD || ''
  await writeFile(path.join(dir, 'users.txt'), `"${user}" "${password}"\n`)
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${target.hostname} port=${target.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      `auth_type = ${password ? 'plain' : 'trust'}`,
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'default_pool_size = 3',
      '',
    ].join('\n'),
  )
  // PgBouncer refuses to run as root: as root, it runs as the postgres user.
  const asPostgres = userInfo().uid === 0
  if (asPostgres) await chmod(dir, 0o755)
  const ids = asPostgres ? await postgresUserIds() : {}
  const child = spawn(binary, [path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'], ...ids })
  let log = ''
  child.stderr!.on('data', (chunk) => (log += String(chunk)))
  t.teardown(() => {
    child.kill('SIGTERM')
  })
  const url = Object.assign(new URL(target), { hostname: '127.0.0.1', port: String(port) }).toString()
  const probe = createPool(url, { max: 1, prepare: false })
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      await probe`select 1`
      break
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${log}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  await probe.end({ timeout: 1 })
  return url
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((entry) => entry.startsWith('postgres:'))
  const [, , uid, gid] = line!.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

const bouncerTest = { skip: PGBOUNCER ? false : 'no pgbouncer binary on this machine' }
t.test('behind a transaction-mode PgBouncer, DB_PREPARED_STATEMENTS=0 stores and serves the same', bouncerTest, async (t) => {
  const { db, pool } = await setup(t)
  const url = await startPgBouncer(t, PGBOUNCER!, new URL(db.url))
  const direct = await storeEach(pool({ prepare: false }), 'direct')
  const bounced = createPool(url, { max: 4, prepare: false })
  t.teardown(() => bounced.end({ timeout: 1 }))
  // Three callers at once over a server pool of three: transactions go to any of them.
  const runs = await Promise.all([1, 2, 3].map((n) => storeEach(bounced, `bounced ${n}`)))
  for (const [n, outcomes] of runs.entries()) {
    t.same(outcomes.map(storedOf), direct.map(storedOf), `the same stored values through the bouncer (caller ${n + 1})`)
  }

  // Core's own work through the bouncer: a tenant, a user, posts and their page.
  const directServices = await createServices({ sql: pool({ max: 2 }), config: FAST_CONFIG })
  await directServices.migrateAll() // the advisory lock needs a session: not through the bouncer
  const services = await createServices({ sql: bounced, config: FAST_CONFIG })
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'bounced@example.com', password: 'password1' })
  await Promise.all(Array.from({ length: 12 }, (_, i) => services.posts.createPost(tenant, user.id, { title: `post ${i}`, body: 'b' })))
  const page = await services.posts.listPosts(tenant, { limit: 5 })
  t.equal(page.results.length, 5)
  t.equal((await services.posts.listPosts(tenant, { limit: 100 })).results.length, 12, 'every post written once')
})

t.test("a new connection asks for no types: core's queries use built-in ones, and the pool fetches the rest once", async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  // Each table has a row type and an array of it: at many tenants, hundreds of thousands of
  // them. postgres.js 3 read every array type on every new connection; 4 knows the built-in
  // types and reads the database's own only when a query first meets one, once per pool.
  await db.sql.unsafe(Array.from({ length: 40 }, (_, i) => `create table wide_${i} (id int)`).join(';'))
  await db.sql`insert into wide_0 values (7), (8)`
  const sql = createPool(db.url, { max: 2 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const services = await createServices({ sql, config: FAST_CONFIG })
  await services.migrateAll()
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'types@example.com', password: 'password1' })
  await services.posts.createPost(tenant, user.id, { title: 't', body: 'b' })
  t.equal((await services.posts.listPosts(tenant)).results.length, 1)

  // A type made now is known to the pool only if it has not read the types yet.
  await db.sql`create type mood as enum ('calm', 'busy')`
  const [row] = await sql<{ moods: unknown }[]>`select array['calm', 'busy']::mood[] as moods`
  t.same(row!.moods, ['calm', 'busy'], "core's work made the pool read no types: an array of a type created after it parses")

  await db.sql`create type later_mood as enum ('calm')`
  const [later] = await sql<{ moods: unknown }[]>`select array['calm']::later_mood[] as moods`
  t.equal(later!.moods, '{calm}', 'the pool read them once: a type created after that comes back as text')
  // postgres.js 3 with the patch this project carried gave the text literal '{(7),(8)}'.
  const [table] = await sql<{ rows: unknown; one: unknown }[]>`select array_agg(w order by id) as rows, min(w::text) as one from wide_0 w`
  t.same(table!.rows, ['(7)', '(8)'], "an array of a table's rows is a list of their text literals, as a row itself is one")
  t.equal(table!.one, '(7)')
})
