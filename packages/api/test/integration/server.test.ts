import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createTestDatabase } from '@tenantbase/core/testing'
import { JWT_SECRET, makeTenant, setupDatabase } from '../helper.js'

const packageDir = fileURLToPath(new URL('../..', import.meta.url))

interface RunningServer {
  readonly child: ChildProcess
  readonly lines: Record<string, unknown>[]
  readonly stderr: () => string
  /** Resolves with the first log line matching `test`. */
  waitFor(test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>
  readonly exited: Promise<number | null>
}

function startServer(databaseUrl: string, extraEnv: Record<string, string> = {}): RunningServer {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: packageDir,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'debug',
      BCRYPT_COST: '10',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  const waiters: { test: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = []
  let buffer = ''
  child.stdout!.on('data', (chunk) => {
    buffer += String(chunk)
    let newline
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      let line: Record<string, unknown>
      try {
        line = JSON.parse(text)
      } catch {
        line = { msg: text }
      }
      lines.push(line)
      for (const waiter of waiters.filter((w) => w.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor: (test) =>
      new Promise((resolve, reject) => {
        const found = lines.find(test)
        if (found) return resolve(found)
        waiters.push({ test, resolve })
        void exited.then((code) => reject(new Error(`server exited (${code}) first: ${stderr}`)))
      }),
  }
}

t.test('over a real socket: serves, answers both slash forms, shuts down gracefully', async (t) => {
  const ctx = await setupDatabase(t)
  const tenant = await makeTenant(ctx.services)
  const server = startServer(ctx.db.url)
  t.teardown(() => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
  })
  const started = await server.waitFor((line) => /tenantbase API on/.test(String(line.msg)))
  const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(String(started.msg))![1]!
  t.notMatch(
    String(started.msg),
    /tenantctl create/,
    'no first-tenant hint: there is a tenant (the root start test sees it on an empty database)',
  )
  t.match(String(started.msg), /\/swagger\//, 'and where the docs are')

  const key = { 'api-key': tenant.key, 'content-type': 'application/json' }
  const health = await fetch(`${base}/healthz`)
  t.equal(health.status, 200)
  const register = await fetch(`${base}/api/users/register`, {
    method: 'POST',
    headers: key,
    body: JSON.stringify({ email: 'sock@example.com', password: 'password-1' }),
    redirect: 'manual',
  })
  t.equal(register.status, 201, 'no trailing slash, no redirect')
  const login = await fetch(`${base}/api/users/login/`, {
    method: 'POST',
    headers: key,
    body: JSON.stringify({ email: 'sock@example.com', password: 'password-1' }),
    redirect: 'manual',
  })
  t.equal(login.status, 200)
  const { access_token: token } = (await login.json()) as { access_token: string }
  const auth = { ...key, authorization: `Bearer ${token}` }
  const created = await fetch(`${base}/api/posts`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ title: 'over TCP', body: 'b' }),
    redirect: 'manual',
  })
  t.equal(created.status, 201)
  const list = await fetch(`${base}/api/posts`, { headers: auth, redirect: 'manual' })
  t.equal(list.status, 200)
  t.equal(((await list.json()) as { results: unknown[] }).results.length, 1)
  const unauthorised = await fetch(`${base}/api/posts/`, { redirect: 'manual' })
  t.equal(unauthorised.status, 401)
  t.same(Object.keys((await unauthorised.json()) as object).sort(), ['code', 'error', 'message', 'statusCode'])

  // An in-flight request (registration runs bcrypt) when SIGTERM arrives still completes.
  const inFlight = fetch(`${base}/api/users/register/`, {
    method: 'POST',
    headers: key,
    body: JSON.stringify({ email: 'late@example.com', password: 'password-1' }),
  })
  // (The earlier registration used the path without its slash: this line is the late one.)
  await server.waitFor((line) => line.msg === 'incoming request' && line.path === '/api/users/register/')
  server.child.kill('SIGTERM')
  t.equal((await inFlight).status, 201, 'the in-flight request finished')
  t.equal(await server.exited, 0, 'exits 0 after SIGTERM')
  t.ok(
    server.lines.some((line) => /shutting down/.test(String(line.msg))),
    'logs the shutdown',
  )
  t.equal(server.lines.at(-1)?.msg, 'stopped', 'and a last line once it is done')
  await t.rejects(fetch(`${base}/healthz`), 'no longer listening')
})

t.test('on a database that is not migrated it exits 1, saying to run tenantctl migrate', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const server = startServer(db.url)
  t.equal(await server.exited, 1)
  t.match(server.stderr(), /pnpm tenantctl migrate/)
})

t.test('with a DATABASE_LISTEN_URL nothing answers on, it exits 1 naming it, without its password', async (t) => {
  const ctx = await setupDatabase(t)
  const server = startServer(ctx.db.url, { DATABASE_LISTEN_URL: 'postgres://u:hunter2-secret@127.0.0.1:1/x' })
  t.equal(await server.exited, 1)
  t.match(server.stderr(), /cannot LISTEN for revocations on 127\.0\.0\.1:1 \(DATABASE_LISTEN_URL/)
  t.notMatch(server.stderr(), /hunter2/, 'the password is not printed')
  t.notMatch(server.stderr(), /\n\s+at /, 'no stack trace')
})

t.test('without JWT_SECRET on an external database it refuses to start', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: packageDir,
    env: { ...process.env, DATABASE_URL: 'postgres://x@127.0.0.1:1/x', JWT_SECRET: '', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(stderr, /JWT_SECRET is required/)
})
