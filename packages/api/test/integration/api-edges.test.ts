import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('API edges a new user meets', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const user = await registerAndLogin(app, tenant)
  const post = (
    await app.inject({ method: 'POST', url: '/api/posts/', headers: user.headers, payload: { title: 'Hello', body: 'First.' } })
  ).json()

  t.test('a body that is not JSON: 415 says application/json is expected', async (t) => {
    // What `curl -d title=x` sends.
    const form = await app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: { ...user.headers, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'title=x&body=y',
    })
    assertError(t, form, 415, 'UNSUPPORTED_MEDIA_TYPE')
    t.match(form.json().message, /application\/json/)
    const untyped = await app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: user.headers,
      payload: Buffer.from('{"title":"x","body":"y"}'),
    })
    assertError(t, untyped, 415, 'UNSUPPORTED_MEDIA_TYPE')
    t.match(untyped.json().message, /application\/json/)
  })

  t.test('a bodiless GET or DELETE with Content-Type: application/json and no body is accepted', async (t) => {
    const json = { ...user.headers, 'content-type': 'application/json' }
    const got = await app.inject({ method: 'GET', url: `/api/posts/${post.id}/`, headers: json, payload: '' })
    t.equal(got.statusCode, 200, got.body)
    const list = await app.inject({ method: 'GET', url: '/api/posts/', headers: json, payload: '' })
    t.equal(list.statusCode, 200, list.body)
    const deleted = await app.inject({ method: 'DELETE', url: `/api/posts/${post.id}/`, headers: json, payload: '' })
    t.equal(deleted.statusCode, 204, deleted.body)
    const gone = await app.inject({ method: 'GET', url: `/api/posts/${post.id}/`, headers: user.headers })
    assertError(t, gone, 404, 'POST_NOT_FOUND')
    // Where a body is expected, an empty one is still refused.
    assertError(t, await app.inject({ method: 'POST', url: '/api/posts/', headers: json, payload: '' }), 400, 'INVALID_JSON')
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/logout/', headers: json, payload: '' }), 400, 'INVALID_JSON')
  })

  t.test('the Bearer scheme is case-insensitive', async (t) => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const response = await app.inject({
        url: '/api/users/me/',
        headers: { 'api-key': tenant.key, authorization: `${scheme} ${user.accessToken}` },
      })
      t.equal(response.statusCode, 200, `${scheme}: ${response.body}`)
    }
    for (const header of [`Basic ${user.accessToken}`, `Bearer${user.accessToken}`, user.accessToken, 'Bearer ']) {
      assertError(
        t,
        await app.inject({ url: '/api/users/me/', headers: { 'api-key': tenant.key, authorization: header } }),
        401,
        'INVALID_ACCESS_TOKEN',
      )
    }
  })

  t.test("a valid token with another tenant's key has its own code", async (t) => {
    const other = await makeTenant(ctx.services, 'other')
    const response = await app.inject({
      url: '/api/users/me/',
      headers: { 'api-key': other.key, authorization: user.headers.authorization! },
    })
    assertError(t, response, 401, 'TOKEN_TENANT_MISMATCH')
    t.equal(response.json().message, "this token belongs to another tenant's login")
  })

  t.test('validation messages: field names, plain words, every problem at once', async (t) => {
    const cases: [string, string, string, object | undefined, string][] = [
      ['POST', '/api/posts/', 'empty title, no body', { title: '' }, 'body is required; title must be 1 to 200 characters'],
      ['POST', '/api/posts/', 'nothing at all', {}, 'title is required; body is required'],
      [
        'POST',
        '/api/posts/',
        'a title too long and a body object',
        { title: 'x'.repeat(201), body: {} },
        'title must be 1 to 200 characters; body must be a string',
      ],
      ['PATCH', '/api/posts/1/', 'an empty patch', {}, 'the body must have at least one of title, body'],
      [
        'POST',
        '/api/users/register/',
        'a name too long',
        { email: 'a@example.com', password: 'long enough', name: 'n'.repeat(201) },
        'name must be at most 200 characters',
      ],
      [
        'POST',
        '/api/users/register/',
        'a name of the wrong type',
        { email: 'a@example.com', password: 'long enough', name: {} },
        'name must be a string or null',
      ],
      ['POST', '/api/users/login/', 'no password, an array for email', { email: [{}] }, 'email must be a string; password is required'],
      [
        'GET',
        '/api/posts/?author=someone&limit=0',
        'a bad author and limit',
        undefined,
        'author must be a user id or me; limit must be an integer from 1 to 100',
      ],
      ['GET', '/api/posts/?limit=many', 'a limit that is no number', undefined, 'limit must be an integer'],
    ]
    for (const [method, url, label, payload, message] of cases) {
      const response = await app.inject({ method: method as 'GET', url, headers: user.headers, ...(payload && { payload }) })
      assertError(t, response, 400, 'VALIDATION_FAILED')
      const words = response.json().message as string
      // The order of the problems follows the schema; compare them as a set.
      t.same(words.split('; ').sort(), message.split('; ').sort(), `${label}: ${words}`)
      t.notMatch(words, /body\/|querystring\/|params\/|must NOT|must match|\^|\$/, `${label}: no internals`)
    }
    // Core's own rules read the same way.
    const blank = await app.inject({ method: 'POST', url: '/api/posts/', headers: user.headers, payload: { title: '   ', body: 'x' } })
    assertError(t, blank, 400, 'VALIDATION_FAILED')
    t.equal(blank.json().message, 'title must be 1 to 200 characters')
  })

  t.test('a wrong method on a known path is 405 with Allow; an empty segment is no route', async (t) => {
    const cases: [string, string, string][] = [
      ['PATCH', '/api/posts/', 'GET, HEAD, POST'],
      ['PATCH', '/api/posts', 'GET, HEAD, POST'],
      ['GET', '/api/users/login/', 'POST'],
      ['DELETE', '/api/users/me/', 'GET, HEAD'],
      ['POST', `/api/posts/${post.id}/`, 'GET, HEAD, PUT, PATCH, DELETE'],
      ['PUT', '/healthz', 'GET, HEAD'],
    ]
    for (const [method, url, allow] of cases) {
      const response = await app.inject({ method: method as 'GET', url, headers: user.headers })
      assertError(t, response, 405, 'METHOD_NOT_ALLOWED')
      t.equal(response.headers.allow, allow, `${method} ${url}: Allow ${allow}`)
    }
    for (const url of ['/api/posts//', '/api/posts//?limit=5', '/api//posts/', '/api/nowhere/']) {
      const response = await app.inject({ url, headers: user.headers })
      assertError(t, response, 404, 'ROUTE_NOT_FOUND')
      t.notOk(response.headers.allow, `${url}: no Allow`)
    }
    assertError(t, await app.inject({ method: 'DELETE', url: '/api/posts//', headers: user.headers }), 404, 'ROUTE_NOT_FOUND')
  })
})

t.test('405 and Allow over a real socket', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const response = await fetch(`${base}/api/users/login/`, { method: 'GET' })
  t.equal(response.status, 405)
  t.equal(response.headers.get('allow'), 'POST')
  t.match(await response.json(), { statusCode: 405, code: 'METHOD_NOT_ALLOWED', error: 'Method Not Allowed' })
  const options = await fetch(`${base}/api/posts/`, { method: 'OPTIONS' })
  t.equal(options.status, 405, 'without CORS an OPTIONS is a wrong method too')
  t.equal(options.headers.get('allow'), 'GET, HEAD, POST')
  await options.body?.cancel()
})

t.test('GET / answers with the way to the documentation and the health routes, over a real socket', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const root = await fetch(`${base}/`)
  t.equal(root.status, 200)
  t.match(root.headers.get('content-type'), /^application\/json/)
  const links = (await root.json()) as { documentation: string; openapi: string; health: { liveness: string; readiness: string } }
  t.same(links, {
    name: 'tenantbase API',
    documentation: '/swagger/',
    openapi: '/swagger/json',
    health: { liveness: '/healthz', readiness: '/readyz' },
    api: '/api/',
  })
  // Every link answers: none is a 404.
  for (const path of [links.documentation, links.openapi, links.health.liveness, links.health.readiness]) {
    const linked = await fetch(`${base}${path}`)
    t.equal(linked.status, 200, `${path} answers`)
    await linked.body?.cancel()
  }
  const head = await fetch(`${base}/`, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD / too')
})

t.test('a body field no schema names is refused, naming it; a __proto__ key is refused saying why', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const user = await registerAndLogin(app, tenant)
  const post = (
    await app.inject({ method: 'POST', url: '/api/posts/', headers: user.headers, payload: { title: 'Mine', body: 'x' } })
  ).json()
  const count = async () => (await app.inject({ url: '/api/posts/', headers: user.headers })).json().results.length

  const forged = await app.inject({
    method: 'POST',
    url: '/api/posts/',
    headers: user.headers,
    payload: { title: 'x', body: 'y', id: 1, author_id: 999 },
  })
  assertError(t, forged, 400, 'VALIDATION_FAILED')
  t.match(forged.json().message, /unknown field id/)
  t.match(forged.json().message, /unknown field author_id/)
  const patched = await app.inject({ method: 'PATCH', url: `/api/posts/${post.id}/`, headers: user.headers, payload: { author_id: 2 } })
  assertError(t, patched, 400, 'VALIDATION_FAILED')
  t.match(patched.json().message, /unknown field author_id/)
  const registered = await app.inject({
    method: 'POST',
    url: '/api/users/register/',
    headers: { 'api-key': tenant.key },
    payload: { email: 'admin@example.com', password: 'long enough', is_admin: true },
  })
  assertError(t, registered, 400, 'VALIDATION_FAILED')
  t.match(registered.json().message, /unknown field is_admin/)
  t.equal(await count(), 1, 'nothing was written')

  for (const payload of [
    '{"title":"x","body":"y","__proto__":{"admin":true}}',
    '{"title":"x","body":"y","constructor":{"prototype":{}}}',
  ]) {
    const poisoned = await app.inject({
      method: 'POST',
      url: '/api/posts/',
      headers: { ...user.headers, 'content-type': 'application/json' },
      payload,
    })
    assertError(t, poisoned, 400, 'FORBIDDEN_JSON_KEY')
    t.match(poisoned.json().message, /"__proto__" key[\s\S]*refused, as either could alter the prototype/, 'says what is refused and why')
  }
  const broken = await app.inject({
    method: 'POST',
    url: '/api/posts/',
    headers: { ...user.headers, 'content-type': 'application/json' },
    payload: '{"__proto__":',
  })
  assertError(t, broken, 400, 'INVALID_JSON')
  t.equal(await count(), 1)
})
