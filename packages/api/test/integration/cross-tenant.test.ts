import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('cross-tenant matrix', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const a = await makeTenant(ctx.services, 'a')
  const b = await makeTenant(ctx.services, 'b')
  const annA = await registerAndLogin(app, a, 'ann')
  const bobB = await registerAndLogin(app, b, 'bob')
  // Ids are per tenant table: A's post is its 5th, B has 3 posts, so A's id is plausible in
  // B's table but is not one of B's.
  for (let i = 0; i < 4; i++)
    await app.inject({ method: 'POST', url: '/api/posts/', headers: annA.headers, payload: { title: `a${i}`, body: 'a' } })
  const postA = (
    await app.inject({ method: 'POST', url: '/api/posts/', headers: annA.headers, payload: { title: 'A only', body: 'secret of A' } })
  ).json()
  for (let i = 0; i < 3; i++)
    await app.inject({ method: 'POST', url: '/api/posts/', headers: bobB.headers, payload: { title: `b${i}`, body: 'b' } })

  const userRoutes = [
    ['GET', '/api/users/me/'],
    ['GET', '/api/posts/'],
    ['POST', '/api/posts/'],
    ['GET', `/api/posts/${postA.id}/`],
    ['PUT', `/api/posts/${postA.id}/`],
    ['PATCH', `/api/posts/${postA.id}/`],
    ['DELETE', `/api/posts/${postA.id}/`],
  ] as const

  t.test("A's token with B's key is 401 TOKEN_TENANT_MISMATCH on every user route", async (t) => {
    for (const [method, url] of userRoutes) {
      const response = await app.inject({
        method,
        url,
        headers: { 'api-key': b.key, authorization: annA.headers.authorization! },
        payload: { title: 'x', body: 'y' },
      })
      assertError(t, response, 401, 'TOKEN_TENANT_MISMATCH')
    }
  })

  t.test("A's refresh token through B's key is 401", async (t) => {
    for (const url of ['/api/users/token/refresh/', '/api/users/logout/']) {
      assertError(
        t,
        await app.inject({ method: 'POST', url, headers: { 'api-key': b.key }, payload: { refresh_token: annA.refreshToken } }),
        401,
        'INVALID_REFRESH_TOKEN',
      )
    }
    const stillGood = await app.inject({
      method: 'POST',
      url: '/api/users/token/refresh/',
      headers: { 'api-key': a.key },
      payload: { refresh_token: annA.refreshToken },
    })
    t.equal(stillGood.statusCode, 200, 'and the token still works in A')
  })

  t.test("A's credentials do not log in through B", async (t) => {
    assertError(
      t,
      await app.inject({
        method: 'POST',
        url: '/api/users/login/',
        headers: { 'api-key': b.key },
        payload: { email: annA.email, password: annA.password },
      }),
      401,
      'INVALID_CREDENTIALS',
    )
  })

  t.test("A's post ids through B are 404, exactly like a missing one", async (t) => {
    const missing = 987654
    for (const [method, payload] of [['GET'], ['PUT', { title: 'x', body: 'y' }], ['PATCH', { title: 'x' }], ['DELETE']] as const) {
      const foreign = await app.inject({ method, url: `/api/posts/${postA.id}/`, headers: bobB.headers, ...(payload && { payload }) })
      const absent = await app.inject({ method, url: `/api/posts/${missing}/`, headers: bobB.headers, ...(payload && { payload }) })
      assertError(t, foreign, 404, 'POST_NOT_FOUND')
      t.same(foreign.json(), absent.json(), `${method}: same answer as a missing id`)
    }
    const list = (await app.inject({ url: '/api/posts/?limit=100', headers: bobB.headers })).json()
    t.notOk(JSON.stringify(list).includes('secret of A'), "B's list shows nothing of A")
    const listByAnn = (await app.inject({ url: `/api/posts/?author=${annA.id}&limit=100`, headers: bobB.headers })).json()
    t.notOk(JSON.stringify(listByAnn).includes('secret of A'), "filtering B's posts by A's user id finds none of A's")
    const intact = await app.inject({ url: `/api/posts/${postA.id}/`, headers: annA.headers })
    t.match(intact.json(), { title: 'A only', body: 'secret of A' }, 'A still has its post, untouched')
  })

  t.test('unknown, malformed, revoked and expired keys are 401 on every route', async (t) => {
    const expiring = await ctx.services.apiKeys.issueApiKey(a, { name: 'short', expiresAt: new Date(Date.now() + 1500) })
    const revoked = await ctx.services.apiKeys.issueApiKey(a, { name: 'revoked' })
    t.equal(
      (await app.inject({ url: '/api/users/me/', headers: { ...annA.headers, 'api-key': revoked.key } })).statusCode,
      200,
      'the key works first',
    )
    await ctx.services.apiKeys.revokeApiKey(revoked.prefix)
    const unknown = `${a.key.slice(0, 16)}${'A'.repeat(43)}`
    // Wait past the expiry: an expiry timestamp, not a timing assertion.
    while (Date.now() < expiring.expiresAt!.getTime() + 50) await new Promise((resolve) => setTimeout(resolve, 100))
    const routes = [
      ...userRoutes,
      ['POST', '/api/users/register/'],
      ['POST', '/api/users/login/'],
      ['POST', '/api/users/token/refresh/'],
      ['POST', '/api/users/logout/'],
    ] as const
    for (const key of [unknown, 'garbage', revoked.key, expiring.key]) {
      for (const [method, url] of routes) {
        const response = await app.inject({
          method,
          url,
          headers: { 'api-key': key, authorization: annA.headers.authorization! },
          payload: { title: 'x', body: 'y' },
        })
        assertError(t, response, 401, 'INVALID_API_KEY')
      }
    }
  })
})
