import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('users: register, login, me, refresh, logout', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const key = { 'api-key': tenant.key }

  t.test('register', async (t) => {
    const ok = await app.inject({
      method: 'POST',
      url: '/api/users/register/',
      headers: key,
      payload: { email: 'Ann@Example.com', password: 'password-1', name: 'Ann' },
    })
    t.equal(ok.statusCode, 201)
    const user = ok.json()
    t.same(Object.keys(user).sort(), ['created_at', 'email', 'id', 'name'], 'only the public fields, never the hash')
    t.match(user, { email: 'ann@example.com', name: 'Ann', id: Number })
    t.ok(!Number.isNaN(Date.parse(user.created_at)), 'created_at is a timestamp')

    const noName = await app.inject({
      method: 'POST',
      url: '/api/users/register/',
      headers: key,
      payload: { email: 'bob@example.com', password: 'password-1' },
    })
    t.equal(noName.statusCode, 201)
    t.equal(noName.json().name, null)

    assertError(
      t,
      await app.inject({
        method: 'POST',
        url: '/api/users/register/',
        headers: key,
        payload: { email: 'ANN@example.com', password: 'password-2' },
      }),
      409,
      'EMAIL_TAKEN',
    )
    for (const payload of [
      { email: 'x@example.com', password: 'short' },
      { email: 'not-an-email', password: 'password-1' },
      { email: 'x@example.com' },
      { password: 'password-1' },
      { email: 42, password: 'password-1' },
      { email: 'x@example.com', password: 'x'.repeat(73) },
    ]) {
      assertError(t, await app.inject({ method: 'POST', url: '/api/users/register/', headers: key, payload }), 400)
    }
    assertError(
      t,
      await app.inject({ method: 'POST', url: '/api/users/register/', payload: { email: 'c@example.com', password: 'password-1' } }),
      401,
      'MISSING_API_KEY',
    )
  })

  t.test('login and me', async (t) => {
    await app.inject({
      method: 'POST',
      url: '/api/users/register/',
      headers: key,
      payload: { email: 'cy@example.com', password: 'password-1' },
    })
    const login = await app.inject({
      method: 'POST',
      url: '/api/users/login/',
      headers: key,
      payload: { email: 'CY@example.com', password: 'password-1' },
    })
    t.equal(login.statusCode, 200)
    const pair = login.json()
    t.same(Object.keys(pair).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
    t.equal(pair.token_type, 'Bearer')
    t.equal(pair.expires_in, 900, 'the default 15 minutes')
    const claims = JSON.parse(Buffer.from(pair.access_token.split('.')[1], 'base64url').toString())
    t.equal(claims.tid, tenant.id, 'tid is the tenant id')
    t.equal(claims.exp - claims.iat, 900)
    t.equal(JSON.parse(Buffer.from(pair.access_token.split('.')[0], 'base64url').toString()).alg, 'HS256')

    const me = await app.inject({ url: '/api/users/me/', headers: { ...key, authorization: `Bearer ${pair.access_token}` } })
    t.equal(me.statusCode, 200)
    t.match(me.json(), { email: 'cy@example.com', id: Number(claims.sub) })
    t.notOk('password_hash' in me.json())

    assertError(
      t,
      await app.inject({
        method: 'POST',
        url: '/api/users/login/',
        headers: key,
        payload: { email: 'cy@example.com', password: 'wrong-pass' },
      }),
      401,
      'INVALID_CREDENTIALS',
    )
    assertError(
      t,
      await app.inject({
        method: 'POST',
        url: '/api/users/login/',
        headers: key,
        payload: { email: 'nobody@example.com', password: 'password-1' },
      }),
      401,
      'INVALID_CREDENTIALS',
    )
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/login/', headers: key, payload: { email: 'cy@example.com' } }), 400)
    assertError(t, await app.inject({ url: '/api/users/me/', headers: key }), 401, 'MISSING_ACCESS_TOKEN')
    assertError(
      t,
      await app.inject({ url: '/api/users/me/', headers: { ...key, authorization: 'Bearer nope' } }),
      401,
      'INVALID_ACCESS_TOKEN',
    )
    assertError(
      t,
      await app.inject({ url: '/api/users/me/', headers: { authorization: `Bearer ${pair.access_token}` } }),
      401,
      'MISSING_API_KEY',
    )
  })

  t.test('refresh rotates; reuse revokes the family and its access tokens; logout revokes them too', async (t) => {
    const user = await registerAndLogin(app, tenant, 'dee')
    const refresh = (token: string) =>
      app.inject({ method: 'POST', url: '/api/users/token/refresh/', headers: key, payload: { refresh_token: token } })
    const first = await refresh(user.refreshToken)
    t.equal(first.statusCode, 200)
    const pair = first.json()
    t.not(pair.refresh_token, user.refreshToken, 'a new refresh token')
    t.equal(pair.token_type, 'Bearer')
    const me = await app.inject({ url: '/api/users/me/', headers: { ...key, authorization: `Bearer ${pair.access_token}` } })
    t.equal(me.json().id, user.id, 'the new access token works')

    assertError(t, await refresh(user.refreshToken), 401, 'INVALID_REFRESH_TOKEN')
    assertError(t, await refresh(pair.refresh_token), 401, 'INVALID_REFRESH_TOKEN')
    const meWith = (accessToken: string) =>
      app.inject({ url: '/api/users/me/', headers: { ...key, authorization: `Bearer ${accessToken}` } })
    for (const accessToken of [user.accessToken, pair.access_token]) {
      assertError(t, await meWith(accessToken), 401, 'ACCESS_TOKEN_REVOKED')
    }

    const again = await app.inject({
      method: 'POST',
      url: '/api/users/login/',
      headers: key,
      payload: { email: user.email, password: user.password },
    })
    const token = again.json().refresh_token
    const other = await app.inject({
      method: 'POST',
      url: '/api/users/login/',
      headers: key,
      payload: { email: user.email, password: user.password },
    })
    t.equal((await meWith(again.json().access_token)).statusCode, 200, 'the access token works before logout')
    const logout = await app.inject({ method: 'POST', url: '/api/users/logout/', headers: key, payload: { refresh_token: token } })
    t.equal(logout.statusCode, 204)
    t.equal(logout.body, '')
    const afterLogout = await meWith(again.json().access_token)
    assertError(t, afterLogout, 401, 'ACCESS_TOKEN_REVOKED')
    t.match(afterLogout.json().message, /login of this access token has ended/)
    t.equal((await meWith(other.json().access_token)).statusCode, 200, "the user's other login is untouched")
    const posts = await app.inject({ url: '/api/posts/', headers: { ...key, authorization: `Bearer ${again.json().access_token}` } })
    assertError(t, posts, 401, 'ACCESS_TOKEN_REVOKED')
    assertError(t, await refresh(token), 401)
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/logout/', headers: key, payload: { refresh_token: token } }), 401)
    assertError(
      t,
      await app.inject({ method: 'POST', url: '/api/users/logout/', headers: key, payload: { refresh_token: 'garbage' } }),
      401,
    )
    assertError(t, await app.inject({ method: 'POST', url: '/api/users/logout/', headers: key, payload: {} }), 400)
    assertError(t, await refresh(''), 401)
  })
})
