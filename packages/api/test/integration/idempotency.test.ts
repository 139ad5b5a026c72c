import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('Idempotency-Key', async (t) => {
  const ctx = await setupDatabase(t, { IDEMPOTENCY_WAIT_MS: '300' })
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const ann = await registerAndLogin(app, tenant, 'ann')
  const bob = await registerAndLogin(app, tenant, 'bob')
  const { sql } = ctx.db
  const schema = sql(tenant.schemaName)
  const postsTitled = async (title: string) =>
    (await sql`select count(*)::int as count from ${schema}.posts where title = ${title}`)[0]!.count as number
  const create = (headers: Record<string, string>, key: string | undefined, payload: object) =>
    app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: { ...headers, ...(key !== undefined && { 'idempotency-key': key }) },
      payload,
    })

  t.test('a repeat gets the stored answer, marked, and writes nothing', async (t) => {
    const first = await create(ann.headers, 'create-1', { title: 'Once', body: 'only once' })
    t.equal(first.statusCode, 201)
    t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay')
    const again = await create(ann.headers, 'create-1', { title: 'Once', body: 'only once' })
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.body, first.body, 'the same body, byte for byte')
    t.match(again.headers['content-type'], /^application\/json/)
    t.not(again.headers['x-request-id'], first.headers['x-request-id'], 'its own request id')
    t.equal(await postsTitled('Once'), 1, 'one row')
  })

  t.test('the same key with another request is 422, naming the key', async (t) => {
    await create(ann.headers, 'create-2', { title: 'Two', body: 'a' })
    const other = await create(ann.headers, 'create-2', { title: 'Two', body: 'b' })
    assertError(t, other, 422, 'IDEMPOTENCY_KEY_REUSED')
    t.match(other.json().message, /create-2/)
    const put = await app.inject({
      method: 'PUT',
      url: '/api/posts/1/',
      headers: { ...ann.headers, 'idempotency-key': 'create-2' },
      payload: { title: 'Two', body: 'a' },
    })
    assertError(t, put, 422, 'IDEMPOTENCY_KEY_REUSED')
    t.equal(await postsTitled('Two'), 1)
  })

  t.test('keys belong to their caller', async (t) => {
    const byAnn = await create(ann.headers, 'shared-key', { title: 'Shared', body: 'x' })
    const byBob = await create(bob.headers, 'shared-key', { title: 'Shared', body: 'x' })
    t.equal(byBob.statusCode, 201)
    t.equal(byBob.headers['idempotent-replayed'], undefined, "bob's key is not ann's")
    t.not(byBob.json().id, byAnn.json().id)
    t.equal(await postsTitled('Shared'), 2)
  })

  t.test('a key out of bounds is 400 and writes nothing', async (t) => {
    for (const key of ['', 'x'.repeat(256), 'clé', 'tab\there']) {
      assertError(t, await create(ann.headers, key, { title: 'Bad key', body: 'x' }), 400, 'IDEMPOTENCY_KEY_INVALID')
    }
    t.equal((await create(ann.headers, 'k'.repeat(255), { title: 'Long key', body: 'x' })).statusCode, 201, '255 characters are fine')
    t.equal(await postsTitled('Bad key'), 0)
  })

  t.test('an error answer is not stored: the retry runs again', async (t) => {
    const headers = { 'api-key': tenant.key, 'idempotency-key': 'register-taken' }
    const payload = { email: ann.email, password: 'another password' }
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/register/', headers, payload }), 409, 'EMAIL_TAKEN')
    await sql`update ${schema}.users set email = 'ann-moved@example.com' where id = ${ann.id}`
    const retried = await app.inject({ method: 'POST', url: '/api/users/register/', headers, payload })
    t.equal(retried.statusCode, 201, 'ran again, and the email was free this time')
    t.equal(retried.headers['idempotent-replayed'], undefined)
    const replayed = await app.inject({ method: 'POST', url: '/api/users/register/', headers, payload })
    t.equal(replayed.statusCode, 201, 'then a replay, not a 409')
    t.equal(replayed.headers['idempotent-replayed'], 'true')
    t.equal(replayed.body, retried.body)
  })

  t.test('concurrent repeats: one write, every answer the same', async (t) => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => create(ann.headers, 'concurrent', { title: 'Concurrent', body: 'x' })),
    )
    t.same(
      answers.map((answer) => answer.statusCode),
      answers.map(() => 201),
    )
    t.equal(new Set(answers.map((answer) => answer.body)).size, 1, 'one answer')
    t.equal(answers.filter((answer) => answer.headers['idempotent-replayed'] === 'true').length, 11, 'eleven replays')
    t.equal(await postsTitled('Concurrent'), 1)
  })

  t.test('a repeat while the first still runs waits, then gets 409 IDEMPOTENCY_KEY_IN_USE', async (t) => {
    // The first request's claim, held open by this test's own transaction.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let claimed!: () => void
    const claim = new Promise<void>((resolve) => (claimed = resolve))
    const holder = sql
      .begin(async (tx) => {
        await tx`insert into ${schema}.idempotency_keys (scope, key, fingerprint, expires_at)
          values (${`user:${ann.id}`}, 'in-use', 'x', now() + interval '1 hour')`
        claimed()
        await held
        throw new Error('roll back')
      })
      .catch(() => {})
    await claim
    assertError(t, await create(ann.headers, 'in-use', { title: 'In use', body: 'x' }), 409, 'IDEMPOTENCY_KEY_IN_USE')
    release()
    await holder
    t.equal((await create(ann.headers, 'in-use', { title: 'In use', body: 'x' })).statusCode, 201, 'runs once the first rolled back')
    t.equal(await postsTitled('In use'), 1)
  })

  t.test("the wait bounds the key's claim only: a keyed write waiting on a row lock is not IN_USE", async (t) => {
    const post = (await create(ann.headers, undefined, { title: 'Locked', body: 'x' })).json()
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let locked!: () => void
    const lock = new Promise<void>((resolve) => (locked = resolve))
    const holder = sql.begin(async (tx) => {
      await tx`select id from ${schema}.posts where id = ${post.id} for update`
      locked()
      await held
    })
    await lock
    const put = app.inject({
      method: 'PUT',
      url: `/api/posts/${post.id}/`,
      headers: { ...ann.headers, 'idempotency-key': 'put-locked' },
      payload: { title: 'Locked', body: 'changed' },
    })
    // Longer than IDEMPOTENCY_WAIT_MS (300 ms): the PUT is waiting on the row by then.
    setTimeout(release, 1000)
    await holder
    const answer = await put
    t.equal(answer.statusCode, 200, answer.body)
    t.equal(answer.json().body, 'changed')
  })

  t.test('registration is covered; login and refresh ignore the key and store no token', async (t) => {
    const payload = { email: 'kim@example.com', password: 'correct horse', name: 'Kim' }
    const headers = { 'api-key': tenant.key, 'idempotency-key': 'register-kim' }
    const first = await app.inject({ method: 'POST', url: '/api/users/register/', headers, payload })
    const again = await app.inject({ method: 'POST', url: '/api/users/register/', headers, payload })
    t.equal(first.statusCode, 201)
    t.equal(again.statusCode, 201, 'not 409 EMAIL_TAKEN: the stored answer')
    t.equal(again.headers['idempotent-replayed'], 'true')
    const logins = await Promise.all(
      [1, 2].map(() =>
        app.inject({
          method: 'POST',
          url: '/api/users/login/',
          headers: { ...headers, 'idempotency-key': 'login-kim' },
          payload: { email: payload.email, password: payload.password },
        }),
      ),
    )
    t.same(
      logins.map((login) => [login.statusCode, login.headers['idempotent-replayed']]),
      [
        [200, undefined],
        [200, undefined],
      ],
    )
    t.not(logins[0]!.json().refresh_token, logins[1]!.json().refresh_token, 'two logins')
    const stored = await sql`select scope, key, body from ${schema}.idempotency_keys where key like 'login%' or body like '%refresh_token%'`
    t.same(stored, [], 'no token stored')
  })

  t.test('an expired key runs again, and keyed writes delete their tenant’s expired keys', async (t) => {
    await create(ann.headers, 'expiring', { title: 'Expiring', body: 'x' })
    await sql`update ${schema}.idempotency_keys set expires_at = now() - interval '1 second' where key = 'expiring'`
    await sql`insert into ${schema}.idempotency_keys (scope, key, fingerprint, status, expires_at)
      select 'user:0', 'old-' || i, 'x', 201, now() - interval '1 day' from generate_series(1, 150) i`
    const rerun = await create(ann.headers, 'expiring', { title: 'Expiring', body: 'x' })
    t.equal(rerun.statusCode, 201)
    t.equal(rerun.headers['idempotent-replayed'], undefined, 'expired: it ran again')
    t.equal(await postsTitled('Expiring'), 2)
    const [left] = await sql`select count(*)::int as count from ${schema}.idempotency_keys where expires_at <= now()`
    t.ok(left!.count <= 50, `at most 100 deleted by one write (${left!.count} expired left)`)
    await create(ann.headers, 'cleanup-2', { title: 'Cleanup', body: 'x' })
    const [none] = await sql`select count(*)::int as count from ${schema}.idempotency_keys where expires_at <= now()`
    t.equal(none!.count, 0, 'the next write deleted the rest')
  })

  t.test('the OpenAPI document shows the header and its errors on the writes that honour it', async (t) => {
    const document = (await app.inject({ url: '/swagger/json' })).json()
    const header = (operation: { parameters?: { in: string; name: string }[] }) =>
      (operation.parameters ?? []).some((p) => p.in === 'header' && p.name === 'idempotency-key')
    for (const [path, method] of [
      ['/api/posts/', 'post'],
      ['/api/posts/{id}/', 'put'],
      ['/api/posts/{id}/', 'patch'],
      ['/api/posts/{id}/', 'delete'],
      ['/api/users/register/', 'post'],
    ] as const) {
      const operation = document.paths[path][method]
      t.ok(header(operation), `${method} ${path} has the header`)
      t.ok(operation.responses['422'], `${method} ${path} documents 422`)
      t.match(JSON.stringify(operation.responses['503']), /WRITE_OUTCOME_UNKNOWN/)
    }
    t.notOk(header(document.paths['/api/users/login/'].post), 'login does not')
    t.notOk(header(document.paths['/api/posts/'].get), 'reads do not')
  })
})
