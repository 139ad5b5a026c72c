import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { buildApp } from '@tenantbase/api'
import { createServices, loadConfig, loadDeployment, readMigrations } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'

// docs/extending.md, run: the example's deployment (core and the comments module, read from
// its tenantbase.config.ts as every entry point reads it), through the real app (inject), in
// the OpenAPI document next to the built-in routes.

const CONFIG_FILE = fileURLToPath(new URL('../tenantbase.config.ts', import.meta.url))

const JWT_SECRET = 'example-comments-secret-0123456789abcdef'

async function setup(t: Test) {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const config = loadConfig({ DATABASE_URL: db.url, JWT_SECRET, BCRYPT_COST: '10', LOG_LEVEL: 'silent' })
  const deployment = await loadDeployment({ configFile: CONFIG_FILE })
  const services = await createServices({
    sql: db.sql,
    tenantConnections: db.tenantConnections,
    config,
    migrations: deployment.migrations,
  })
  await services.migrateAll()
  const app = await buildApp({ services, config, jwtSecret: JWT_SECRET, modules: deployment.modules })
  t.teardown(() => app.close())
  return { db, services, app }
}

async function login(app: Awaited<ReturnType<typeof setup>>['app'], key: string, email: string) {
  const headers = { 'api-key': key }
  await app.inject({ method: 'POST', url: '/api/users/register/', headers, payload: { email, password: 'password-1' } })
  const response = await app.inject({ method: 'POST', url: '/api/users/login/', headers, payload: { email, password: 'password-1' } })
  return { ...headers, authorization: `Bearer ${response.json<{ access_token: string }>().access_token}` }
}

t.test('a new tenant gets core migrations and ours; comments work end to end', async (t) => {
  const { services, app } = await setup(t)
  const { tenant, apiKey } = await services.tenants.createTenant({ name: 'Commented', schemaName: 'commented' })
  t.same(tenant.migrations, { core: 3, comments: 1 }, 'at core’s last migration and ours, each in its own sequence')
  const auth = await login(app, apiKey.key, 'writer@example.com')

  const post = await app.inject({ method: 'POST', url: '/api/posts/', headers: auth, payload: { title: 'Hello', body: 'first' } })
  t.equal(post.statusCode, 201)
  const postId = post.json<{ id: number }>().id

  const added = await app.inject({ method: 'POST', url: `/api/posts/${postId}/comments/`, headers: auth, payload: { body: ' Nice post ' } })
  t.equal(added.statusCode, 201, added.body)
  t.match(added.json(), { post_id: postId, body: 'Nice post', created_at: String })
  const listed = await app.inject({ method: 'GET', url: `/api/posts/${postId}/comments`, headers: auth })
  t.equal(listed.statusCode, 200, 'without the trailing slash too')
  t.same(
    listed.json<{ body: string }[]>().map((c) => c.body),
    ['Nice post'],
  )

  const missing = await app.inject({ method: 'POST', url: '/api/posts/999999/comments/', headers: auth, payload: { body: 'x' } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json<{ code: string }>().code, 'POST_NOT_FOUND')
  const empty = await app.inject({ method: 'POST', url: `/api/posts/${postId}/comments/`, headers: auth, payload: { body: '' } })
  t.equal(empty.statusCode, 400)
  const anonymous = await app.inject({ method: 'GET', url: `/api/posts/${postId}/comments/`, headers: { 'api-key': apiKey.key } })
  t.equal(anonymous.statusCode, 401, 'needs a user like every posts route')
  const noKey = await app.inject({ method: 'GET', url: `/api/posts/${postId}/comments/` })
  t.equal(noKey.statusCode, 401, 'and an api key')

  // Another tenant sees neither the post nor its comments.
  const other = await services.tenants.createTenant({ name: 'Other', schemaName: 'other_tenant' })
  const otherAuth = await login(app, other.apiKey.key, 'other@example.com')
  const foreign = await app.inject({ method: 'GET', url: `/api/posts/${postId}/comments/`, headers: otherAuth })
  t.equal(foreign.statusCode, 404, "another tenant's post is 404")

  const document = (await app.inject({ method: 'GET', url: '/swagger/json' })).json<{ paths: Record<string, Record<string, unknown>> }>()
  t.ok(document.paths['/api/posts/{postId}/comments/']?.post, 'in the OpenAPI document')
  t.ok(document.paths['/api/posts/{postId}/comments/']?.get)
})

t.test('a module route honours the Idempotency-Key with nothing of its own: one comment however often it is sent', async (t) => {
  const { db, services, app } = await setup(t)
  const { apiKey } = await services.tenants.createTenant({ name: 'Retried', schemaName: 'retried' })
  const auth = await login(app, apiKey.key, 'retrier@example.com')
  const post = await app.inject({ method: 'POST', url: '/api/posts/', headers: auth, payload: { title: 'Hello', body: 'first' } })
  const postId = post.json<{ id: number }>().id
  const send = (key: string, body: string) =>
    app.inject({ method: 'POST', url: `/api/posts/${postId}/comments/`, headers: { ...auth, 'idempotency-key': key }, payload: { body } })

  const answers = [await send('comment-1', 'Once'), await send('comment-1', 'Once'), await send('comment-1', 'Once')]
  t.same(
    answers.map((answer) => [answer.statusCode, answer.headers['idempotent-replayed']]),
    [
      [201, undefined],
      [201, 'true'],
      [201, 'true'],
    ],
  )
  t.equal(new Set(answers.map((answer) => answer.body)).size, 1, 'the same comment each time')
  const reused = await send('comment-1', 'Another')
  t.same([reused.statusCode, reused.json<{ code: string }>().code], [422, 'IDEMPOTENCY_KEY_REUSED'])
  const [rows] = await db.sql`select count(*)::int as count from retried.comments`
  t.equal(rows!.count, 1, 'one row')

  const document = (await app.inject({ method: 'GET', url: '/swagger/json' })).json<{
    paths: Record<string, Record<string, { parameters?: { name: string }[] }>>
  }>()
  const parameters = document.paths['/api/posts/{postId}/comments/']!.post!.parameters ?? []
  t.ok(
    parameters.some((parameter) => parameter.name === 'idempotency-key'),
    'the header is in the OpenAPI document of the module route',
  )
})

t.test('an existing tenant is brought to our migration by migrateAll', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const core = await createServices({ sql: db.sql, migrations: await readMigrations() })
  await core.migrateAll()
  await core.tenants.createTenant({ name: 'Before', schemaName: 'before_comments' })
  const ours = await createServices({ sql: db.sql, migrations: (await loadDeployment({ configFile: CONFIG_FILE })).migrations })
  const report = await ours.migrateAll()
  t.same(
    report.tenants.map((r) => [r.schema, r.from, r.to, r.ok]),
    [['before_comments', { core: 3 }, { core: 3, comments: 1 }, true]],
  )
})
