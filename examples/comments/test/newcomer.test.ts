import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createTestDatabase } from '@tenantbase/core/testing'

// A newcomer's first module, through the tools a user runs (the built `tenantctl` and API
// server, each a process of its own reading a tenantbase.config): a deployment of core alone
// gets tenants, the comments module is declared, and after each step every tool agrees.

const root = fileURLToPath(new URL('../../../', import.meta.url))
const CLI = path.join(root, 'packages/cli/dist/bin.js')
const SERVER = path.join(root, 'packages/api/dist/server.js')
const WITH_COMMENTS = path.join(root, 'examples/comments/tenantbase.config.ts')
const JWT_SECRET = 'newcomer-test-secret-0123456789abcdef'

/** The environment of a child: this one's, without what tap adds to every child. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name === 'NODE_OPTIONS' || name === 'TEST_DATABASE_URL' || /^_?TAP/.test(name)) continue
    env[name] = value
  }
  return { ...env, ...extra }
}

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

async function tenantctl(config: string, url: string, args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: root,
    env: childEnv({ DATABASE_URL: url, TENANTBASE_CONFIG: config, TENANTCTL_ACTOR: 'newcomer@test' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = (await once(child, 'close')) as [number | null]
  clearTimeout(guard)
  return { code, stdout, stderr }
}

/** Starts the built API server on a free port; resolves with its base URL once it listens. */
async function startServer(config: string, url: string): Promise<{ base: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [SERVER], {
    cwd: root,
    env: childEnv({ DATABASE_URL: url, TENANTBASE_CONFIG: config, JWT_SECRET, HOST: '127.0.0.1', PORT: '0', BCRYPT_COST: '10' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const base = await new Promise<string>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`the server did not start: ${output}`)), 60_000)
    const read = (chunk: Buffer) => {
      output += String(chunk)
      const found = /tenantbase API on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (found) {
        clearTimeout(guard)
        resolve(found[1]!)
      }
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${output}`)))
  })
  return {
    base,
    async stop() {
      child.kill('SIGTERM')
      if (child.exitCode === null) await once(child, 'exit')
    },
  }
}

async function request(base: string, method: string, url: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

/** Registers and logs a user in through the API; returns the headers of its requests. */
async function signIn(base: string, key: string): Promise<Record<string, string>> {
  const credentials = { email: 'writer@example.com', password: 'password-1' }
  await request(base, 'POST', '/api/users/register/', { 'api-key': key }, credentials)
  const login = await request(base, 'POST', '/api/users/login/', { 'api-key': key }, credentials)
  return { 'api-key': key, authorization: `Bearer ${String(login.body.access_token)}` }
}

/** Creates a post and comments on it; returns the comment's status. */
async function commentOnNewPost(base: string, headers: Record<string, string>): Promise<number> {
  const post = await request(base, 'POST', '/api/posts/', headers, { title: 'Hello', body: 'first' })
  const comment = await request(base, 'POST', `/api/posts/${String(post.body.id)}/comments/`, headers, { body: 'Nice' })
  return comment.status
}

const json = <T>(run: Run): T => JSON.parse(run.stdout) as T

t.test('the newcomer sequence: every tool agrees after each step', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const folder = await mkdtemp(path.join(tmpdir(), 'tenantbase-newcomer-'))
  t.teardown(() => rm(folder, { recursive: true, force: true }))
  const coreOnly = path.join(folder, 'tenantbase.config.mjs')
  await writeFile(coreOnly, 'export default { modules: [] }\n')

  // 1. The base as cloned: core alone, two tenants.
  t.equal((await tenantctl(coreOnly, db.url, ['migrate'])).code, 0)
  const acme = await tenantctl(coreOnly, db.url, ['create', '--json', '--name', 'Acme', '--address', '', '--schema', 'acme'])
  t.equal(acme.code, 0, acme.stderr)
  const acmeKey = json<{ apiKey: { key: string } }>(acme).apiKey.key
  t.equal((await tenantctl(coreOnly, db.url, ['create', '--name', 'Initech', '--address', '', '--schema', 'initech'])).code, 0)

  // 2. The module is declared: status says the tenants are behind, migrate brings them all.
  const behind = await tenantctl(WITH_COMMENTS, db.url, ['status', '--json'])
  t.equal(behind.code, 1, 'status fails while the module is pending')
  t.same(
    json<{ tenants: { pending: string[] }[] }>(behind).tenants.map((tenant) => tenant.pending),
    [['comments/0001_comments.sql'], ['comments/0001_comments.sql']],
  )
  const migrated = await tenantctl(WITH_COMMENTS, db.url, ['migrate', '--json'])
  t.equal(migrated.code, 0, migrated.stderr)
  t.same(
    json<{ tenants: { schema: string; to: unknown }[] }>(migrated).tenants.map((tenant) => [tenant.schema, tenant.to]),
    [
      ['acme', { core: 3, comments: 1 }],
      ['initech', { core: 3, comments: 1 }],
    ],
  )

  // 3. A tenant created now gets the module's table in the same transaction.
  const globex = await tenantctl(WITH_COMMENTS, db.url, ['create', '--json', '--name', 'Globex', '--address', '', '--schema', 'globex'])
  t.equal(globex.code, 0, globex.stderr)
  const globexKey = json<{ apiKey: { key: string } }>(globex).apiKey.key
  const [table] = await db.sql<{ found: string | null }[]>`select to_regclass('globex.comments')::text as found`
  t.equal(table?.found, 'globex.comments')

  // 4. status, show and doctor agree: everyone at core 3 and comments 1.
  const status = await tenantctl(WITH_COMMENTS, db.url, ['status', '--json'])
  t.equal(status.code, 0, status.stdout + status.stderr)
  t.same(
    json<{ tenants: { state: unknown }[] }>(status).tenants.map((tenant) => tenant.state),
    [0, 1, 2].map(() => ({ core: 3, comments: 1 })),
  )
  const show = await tenantctl(WITH_COMMENTS, db.url, ['show', 'globex', '--json'])
  t.same(json<{ migrations: { pending: string[] } }>(show).migrations.pending, [])
  const doctor = await tenantctl(WITH_COMMENTS, db.url, ['doctor', '--json'])
  t.equal(doctor.code, 0, doctor.stdout + doctor.stderr)

  // 5. The API of the same deployment serves the module for old and new tenants alike.
  const server = await startServer(WITH_COMMENTS, db.url)
  try {
    t.equal(await commentOnNewPost(server.base, await signIn(server.base, acmeKey)), 201, 'a tenant made before the module')
    t.equal(await commentOnNewPost(server.base, await signIn(server.base, globexKey)), 201, 'a tenant made with it')
  } finally {
    await server.stop()
  }

  // 6. The module taken out of the config: every tool refuses, naming it; nothing is written.
  for (const args of [['status'], ['migrate'], ['create', '--name', 'Late', '--address', '', '--schema', 'late']]) {
    const refused = await tenantctl(coreOnly, db.url, args)
    t.equal(refused.code, 1, `${args[0]} refuses`)
    t.match(refused.stderr, /module comments has migrations applied .* not declared/, `${args[0]} names the module`)
  }
  const [late] = await db.sql<{ count: number }[]>`select count(*)::int as count from public.tenants where schema_name = 'late'`
  t.equal(late?.count, 0, 'no tenant was made without the module')
  const start = spawn(process.execPath, [SERVER], {
    cwd: root,
    env: childEnv({ DATABASE_URL: db.url, TENANTBASE_CONFIG: coreOnly, JWT_SECRET, HOST: '127.0.0.1', PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let startErr = ''
  start.stderr.on('data', (chunk) => (startErr += String(chunk)))
  const [startCode] = (await once(start, 'exit')) as [number | null]
  t.equal(startCode, 1, 'the API refuses to start')
  t.match(startErr, /module comments/)

  // 7. A schema dropped by hand: status fails and names it, migrate says what to do, delete says it was gone.
  await db.sql`drop schema initech cascade`
  const dropped = await tenantctl(WITH_COMMENTS, db.url, ['status'])
  t.equal(dropped.code, 1)
  t.match(dropped.stdout, /initech.*schema missing/)
  const migrateDropped = await tenantctl(WITH_COMMENTS, db.url, ['migrate', '--schema', 'initech'])
  t.equal(migrateDropped.code, 1)
  t.match(migrateDropped.stdout + migrateDropped.stderr, /schema initech does not exist/)
  const deleted = await tenantctl(WITH_COMMENTS, db.url, ['delete', 'initech', '--yes', '--force'])
  t.equal(deleted.code, 0, deleted.stderr)
  t.match(deleted.stdout, /schema initech was already gone/)
  t.equal((await tenantctl(WITH_COMMENTS, db.url, ['status'])).code, 0, 'all well again')
})
