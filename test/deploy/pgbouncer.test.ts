/**
 * Revocation behind a transaction-mode pooler, for real: Debian's PgBouncer in
 * `pool_mode = transaction` in front of the test PostgreSQL, and API processes whose pool
 * goes through it:
 * - two with DATABASE_LISTEN_URL (a direct connection for LISTEN), as docs/scaling.md says;
 * - one without, which cannot hear NOTIFY there and must say so and fail closed.
 * tenantctl talks to PostgreSQL directly, as an operator's would.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase, freePort } from '@tenantbase/core/testing'

const root = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)
// Debian puts pgbouncer in /usr/sbin, which a non-login PATH may lack.
const PGBOUNCER = existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer'
const JWT_SECRET = 'pgbouncer-test-secret-0123456789abcdef012345'
/** A hang guard only: the figures printed are what the test measures. */
const DEADLINE_MS = 10_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(what: string, check: () => Promise<boolean>, child?: ChildProcess): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 20_000; await sleep(50)) {
    if (child && child.exitCode !== null) throw new Error(`${what}: process exited with ${child.exitCode}`)
    if (await check().catch(() => false)) return
  }
  throw new Error(`${what}: not within 20 s`)
}

/** Calls `request` until it answers `status`; returns how long that took (ms), or undefined past the deadline. */
async function msUntil(status: number, request: () => Promise<{ status: number }>): Promise<number | undefined> {
  const started = Date.now()
  while (Date.now() - started < DEADLINE_MS) {
    if ((await request()).status === status) return Date.now() - started
    await sleep(10)
  }
  return undefined
}

t.test('revocation behind a transaction-mode PgBouncer', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql })
  await services.migrateAll()
  const { tenant, apiKey } = await services.tenants.createTenant({ name: 'Pooled', schemaName: 'pooled' })
  const keys = {
    revoked: await services.apiKeys.issueApiKey(tenant, { name: 'to revoke' }),
    main: apiKey,
  }

  // PgBouncer refuses to run as root: as root it is started as `nobody`, which must read
  // its folder. It logs to stderr.
  const dir = await mkdtemp(path.join(tmpdir(), 'tenantbase-pgbouncer-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await chmod(dir, 0o755)
  const direct = new URL(db.url)
  // No password in the url (a server that trusts its clients): PgBouncer's connection string then names none, since an
  // empty `password=` does not parse; PGPASSWORD, which the driver would send instead, is named in its stead.
  const password = decodeURIComponent(direct.password) || process.env.PGPASSWORD
  const bouncerPort = await freePort()
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    `[databases]
${direct.pathname.slice(1)} = host=${direct.hostname} port=${direct.port} dbname=${direct.pathname.slice(1)} user=${decodeURIComponent(direct.username)}${password ? ` password=${password}` : ''}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${bouncerPort}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
`,
  )
  const asRoot = process.getuid?.() === 0
  const bouncer = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'nobody'] : []), path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  // Its log (it warns of each notification it drops) is shown only if something failed.
  let bouncerLog = ''
  bouncer.stderr!.on('data', (chunk) => (bouncerLog += String(chunk)))
  t.teardown(() => {
    bouncer.kill('SIGTERM')
    if (!t.passing()) t.comment(`PgBouncer's log:\n${bouncerLog}`)
  })
  const pooled = new URL(db.url)
  pooled.port = String(bouncerPort)
  const pooledUrl = pooled.toString()
  await waitFor(
    'PgBouncer',
    () =>
      new Promise((resolve) => {
        const socket = connect(bouncerPort, '127.0.0.1', () => resolve(socket.end() && true)).once('error', () => resolve(false))
      }),
    bouncer,
  )

  const env = {
    ...process.env,
    DATABASE_URL: pooledUrl,
    JWT_SECRET,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    BCRYPT_COST: '10',
    // PgBouncer 1.18 keeps no prepared statements across transactions.
    DB_PREPARED_STATEMENTS: '0',
    // Only NOTIFY (or no cache at all) can evict a cached key within the test's time.
    API_KEY_CACHE_TTL_MS: '3600000',
  }
  const startApi = async (name: string, extra: Record<string, string>) => {
    const port = await freePort()
    const child = spawn(process.execPath, [path.join(root, 'packages/api/dist/server.js')], {
      env: { ...env, ...extra, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let log = ''
    child.stdout!.on('data', (chunk) => (log += String(chunk)))
    t.teardown(() => void child.kill('SIGKILL'))
    const url = `http://127.0.0.1:${port}`
    await waitFor(`${name} API`, async () => (await fetch(`${url}/healthz`)).ok, child)
    return { name, url, log: () => log }
  }
  const listening = await Promise.all([
    startApi('listening A', { DATABASE_LISTEN_URL: db.url }),
    startApi('listening B', { DATABASE_LISTEN_URL: db.url }),
  ])
  const deaf = await startApi('deaf', {})
  const every = [...listening, deaf]

  const call = async (base: string, method: string, url: string, opts: { key?: string; token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = {}
    if (opts.key) headers['api-key'] = opts.key
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${base}${url}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined }
  }
  const credentials = { email: 'pooled@example.com', password: 'password1' }
  t.equal(
    (await call(listening[0]!.url, 'POST', '/api/users/register/', { key: keys.main.key, body: credentials })).status,
    201,
    'register through PgBouncer',
  )
  const login = async () => (await call(listening[0]!.url, 'POST', '/api/users/login/', { key: keys.main.key, body: credentials })).body

  await t.test('the pool really is transaction mode: LISTEN through it hears nothing', async (t) => {
    const readiness = await call(deaf.url, 'GET', '/readyz')
    t.equal(readiness.status, 503, 'the process without DATABASE_LISTEN_URL is not ready')
    t.equal(readiness.body.code, 'REVOCATIONS_NOT_HEARD')
    t.match(readiness.body.message, /DATABASE_LISTEN_URL/, '/readyz names the fix')
    t.match(deaf.log(), /"level":50[^\n]*DATABASE_LISTEN_URL/, 'an error is logged naming the fix')
    for (const api of listening) {
      t.equal((await call(api.url, 'GET', '/readyz')).status, 200, `${api.name} (DATABASE_LISTEN_URL) is ready`)
      t.notMatch(api.log(), /"level":50/, `${api.name} logged no error`)
    }
  })

  await t.test('a key revoked with tenantctl is refused by every process within a second', async (t) => {
    const { access_token: token } = await login()
    for (const api of every)
      t.equal(
        (await call(api.url, 'GET', '/api/users/me/', { key: keys.revoked.key, token })).status,
        200,
        `${api.name}: the key works (and is cached where caching is on)`,
      )
    await run(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), 'keys', 'revoke', keys.revoked.prefix], {
      env: { ...env, DATABASE_URL: db.url },
    })
    for (const api of every) {
      const ms = await msUntil(401, () => call(api.url, 'GET', '/api/users/me/', { key: keys.revoked.key, token }))
      t.ok(ms !== undefined, `${api.name}: the revoked key is refused (measured ${ms} ms after tenantctl exited)`)
      t.comment(`${api.name}: revoked key refused ${ms} ms after tenantctl exited`)
    }
  })

  await t.test("a logout ends the login's access tokens on every process within a second", async (t) => {
    const { access_token: token, refresh_token: refresh } = await login()
    const other = await login()
    for (const api of every)
      t.equal((await call(api.url, 'GET', '/api/users/me/', { key: keys.main.key, token })).status, 200, `${api.name}: the token works`)
    t.equal(
      (await call(listening[1]!.url, 'POST', '/api/users/logout/', { key: keys.main.key, body: { refresh_token: refresh } })).status,
      204,
      'logged out on B',
    )
    for (const api of every) {
      const ms = await msUntil(401, () => call(api.url, 'GET', '/api/users/me/', { key: keys.main.key, token }))
      t.ok(ms !== undefined, `${api.name}: the logged-out access token is refused`)
      t.comment(`${api.name}: logged-out token refused ${ms} ms after the logout answered`)
      const refused = await call(api.url, 'GET', '/api/users/me/', { key: keys.main.key, token })
      t.equal(refused.body.code, 'ACCESS_TOKEN_REVOKED', `${api.name}: with its own code`)
      t.equal(
        (await call(api.url, 'GET', '/api/users/me/', { key: keys.main.key, token: other.access_token })).status,
        200,
        `${api.name}: another login is untouched`,
      )
    }
  })

  await t.test('a reused refresh token ends the whole login on every process within a second', async (t) => {
    const first = await login()
    const rotated = (
      await call(listening[0]!.url, 'POST', '/api/users/token/refresh/', {
        key: keys.main.key,
        body: { refresh_token: first.refresh_token },
      })
    ).body
    t.ok(rotated.access_token, 'refreshed')
    for (const api of every)
      t.equal(
        (await call(api.url, 'GET', '/api/users/me/', { key: keys.main.key, token: rotated.access_token })).status,
        200,
        `${api.name}: the new token works`,
      )
    const reuse = await call(deaf.url, 'POST', '/api/users/token/refresh/', {
      key: keys.main.key,
      body: { refresh_token: first.refresh_token },
    })
    t.equal(reuse.status, 401, 'the reused refresh token is refused (on the deaf process)')
    for (const api of every) {
      for (const token of [first.access_token, rotated.access_token]) {
        const ms = await msUntil(401, () => call(api.url, 'GET', '/api/users/me/', { key: keys.main.key, token }))
        t.ok(ms !== undefined, `${api.name}: an access token of the reused login is refused`)
        t.comment(`${api.name}: access token of the reused login refused ${ms} ms after the reuse answered`)
      }
    }
  })

  await t.test('a process that starts after the logout refuses the token too', async (t) => {
    const { access_token: token, refresh_token: refresh } = await login()
    t.equal(
      (await call(listening[0]!.url, 'POST', '/api/users/logout/', { key: keys.main.key, body: { refresh_token: refresh } })).status,
      204,
    )
    const late = await startApi('late', { DATABASE_LISTEN_URL: db.url })
    const refused = await call(late.url, 'GET', '/api/users/me/', { key: keys.main.key, token })
    t.equal(refused.status, 401, 'refused on the first request: ended logins are loaded at start')
    t.equal(refused.body.code, 'ACCESS_TOKEN_REVOKED')
  })
})
