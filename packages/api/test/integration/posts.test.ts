import t from 'tap'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

t.test('posts', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const ann = await registerAndLogin(app, tenant, 'ann')
  const bob = await registerAndLogin(app, tenant, 'bob')
  const create = (headers: Record<string, string>, payload: unknown) =>
    app.inject({ method: 'POST', url: '/api/posts/', headers, payload: payload as object })

  t.test('create, read, replace, patch, delete', async (t) => {
    const created = await create(ann.headers, { title: ' Hello ', body: 'First.' })
    t.equal(created.statusCode, 201)
    const post = created.json()
    t.same(Object.keys(post).sort(), ['author_id', 'body', 'created_at', 'id', 'title', 'updated_at'])
    t.match(post, { title: 'Hello', body: 'First.', author_id: ann.id })

    const read = await app.inject({ url: `/api/posts/${post.id}/`, headers: bob.headers })
    t.equal(read.statusCode, 200, 'any user of the tenant reads it')
    t.same(read.json(), post)

    const put = await app.inject({
      method: 'PUT',
      url: `/api/posts/${post.id}/`,
      headers: ann.headers,
      payload: { title: 'New', body: 'Second.' },
    })
    t.equal(put.statusCode, 200)
    t.match(put.json(), { id: post.id, title: 'New', body: 'Second.', author_id: ann.id })
    t.ok(Date.parse(put.json().updated_at) >= Date.parse(post.updated_at))

    const patch = await app.inject({ method: 'PATCH', url: `/api/posts/${post.id}/`, headers: ann.headers, payload: { body: 'Third.' } })
    t.equal(patch.statusCode, 200)
    t.match(patch.json(), { title: 'New', body: 'Third.' })

    assertError(
      t,
      await app.inject({ method: 'PUT', url: `/api/posts/${post.id}/`, headers: bob.headers, payload: { title: 'x', body: 'y' } }),
      403,
      'NOT_POST_AUTHOR',
    )
    assertError(
      t,
      await app.inject({ method: 'PATCH', url: `/api/posts/${post.id}/`, headers: bob.headers, payload: { title: 'x' } }),
      403,
      'NOT_POST_AUTHOR',
    )
    assertError(t, await app.inject({ method: 'DELETE', url: `/api/posts/${post.id}/`, headers: bob.headers }), 403, 'NOT_POST_AUTHOR')
    t.equal(
      (await app.inject({ url: `/api/posts/${post.id}/`, headers: ann.headers })).json().body,
      'Third.',
      'unchanged by the refused writes',
    )

    const deleted = await app.inject({ method: 'DELETE', url: `/api/posts/${post.id}/`, headers: ann.headers })
    t.equal(deleted.statusCode, 204)
    t.equal(deleted.body, '')
    assertError(t, await app.inject({ url: `/api/posts/${post.id}/`, headers: ann.headers }), 404, 'POST_NOT_FOUND')
    assertError(t, await app.inject({ method: 'DELETE', url: `/api/posts/${post.id}/`, headers: ann.headers }), 404)
    assertError(
      t,
      await app.inject({ method: 'PUT', url: `/api/posts/${post.id}/`, headers: ann.headers, payload: { title: 'x', body: 'y' } }),
      404,
    )
    assertError(t, await app.inject({ method: 'PATCH', url: `/api/posts/${post.id}/`, headers: ann.headers, payload: { title: 'x' } }), 404)
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      assertError(t, await app.inject({ url: `/api/posts/${id}/`, headers: ann.headers }), 404)
    }
  })

  t.test('invalid input is 400', async (t) => {
    const bad = [
      {},
      { title: '', body: 'x' },
      { title: 'x' },
      { title: 'x'.repeat(201), body: 'x' },
      { title: 'x', body: 'y'.repeat(10_001) },
      { title: { text: 'x' }, body: 'x' },
      { title: '   ', body: 'x' },
      [],
    ]
    for (const payload of bad) assertError(t, await create(ann.headers, payload), 400)
    const { id } = (await create(ann.headers, { title: 't', body: 'b' })).json()
    assertError(t, await app.inject({ method: 'PUT', url: `/api/posts/${id}/`, headers: ann.headers, payload: { title: 'only' } }), 400)
    assertError(t, await app.inject({ method: 'PATCH', url: `/api/posts/${id}/`, headers: ann.headers, payload: {} }), 400)
    assertError(t, await app.inject({ method: 'PATCH', url: `/api/posts/${id}/`, headers: ann.headers, payload: { title: '' } }), 400)
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=bm9wZQ', 'author=someone', 'author=0']) {
      assertError(t, await app.inject({ url: `/api/posts/?${query}`, headers: ann.headers }), 400)
    }
  })

  t.test('list: newest first, cursor pages, author filter', async (t) => {
    const other = await makeTenant(ctx.services, 'list')
    const cy = await registerAndLogin(app, other, 'cy')
    const dee = await registerAndLogin(app, other, 'dee')
    const ids: number[] = []
    for (let i = 0; i < 25; i++) ids.push((await create(i % 5 === 0 ? dee.headers : cy.headers, { title: `p${i}`, body: 'b' })).json().id)

    const first = await app.inject({ url: '/api/posts/', headers: cy.headers })
    t.equal(first.statusCode, 200)
    const page = first.json()
    t.equal(page.results.length, 20, 'default limit 20')
    t.same(
      page.results.map((p: { id: number }) => p.id),
      ids.slice().reverse().slice(0, 20),
      'newest first',
    )
    t.type(page.next, 'string')
    const second = (await app.inject({ url: `/api/posts/?cursor=${encodeURIComponent(page.next)}`, headers: cy.headers })).json()
    t.same(
      second.results.map((p: { id: number }) => p.id),
      ids.slice().reverse().slice(20),
    )
    t.equal(second.next, null, 'last page')

    const small = (await app.inject({ url: '/api/posts/?limit=3', headers: cy.headers })).json()
    t.equal(small.results.length, 3)
    const mine = (await app.inject({ url: '/api/posts/?author=me&limit=100', headers: dee.headers })).json()
    t.equal(mine.results.length, 5)
    t.ok(mine.results.every((p: { author_id: number }) => p.author_id === dee.id))
    const byId = (await app.inject({ url: `/api/posts/?author=${dee.id}&limit=100`, headers: cy.headers })).json()
    t.same(byId, mine, 'author=<id> is author=me of that user')
    t.same((await app.inject({ url: '/api/posts/?author=424242', headers: cy.headers })).json(), { results: [], next: null })
  })

  t.test('every route without a user token is 401', async (t) => {
    const { id } = (await create(ann.headers, { title: 't', body: 'b' })).json()
    const routes = [
      ['GET', '/api/posts/'],
      ['POST', '/api/posts/'],
      ['GET', `/api/posts/${id}/`],
      ['PUT', `/api/posts/${id}/`],
      ['PATCH', `/api/posts/${id}/`],
      ['DELETE', `/api/posts/${id}/`],
    ] as const
    for (const [method, url] of routes) {
      assertError(
        t,
        await app.inject({ method, url, headers: { 'api-key': tenant.key }, payload: { title: 't', body: 'b' } }),
        401,
        'MISSING_ACCESS_TOKEN',
      )
      assertError(
        t,
        await app.inject({ method, url, headers: { authorization: ann.headers.authorization! }, payload: { title: 't', body: 'b' } }),
        401,
        'MISSING_API_KEY',
      )
    }
  })

  t.test('every route answers with and without its trailing slash, never redirecting', async (t) => {
    const { id } = (await create(ann.headers, { title: 'slash', body: 'b' })).json()
    const pairs: [string, string, number, object?][] = [
      ['GET', '/api/posts', 200],
      ['POST', '/api/posts', 201, { title: 'a', body: 'b' }],
      ['GET', `/api/posts/${id}`, 200],
      ['PUT', `/api/posts/${id}`, 200, { title: 'a', body: 'b' }],
      ['PATCH', `/api/posts/${id}`, 200, { title: 'c' }],
      ['GET', '/api/users/me', 200],
    ]
    for (const [method, path, status, payload] of pairs) {
      for (const url of [path, `${path}/`]) {
        const response = await app.inject({ method: method as 'GET', url, headers: ann.headers, ...(payload && { payload }) })
        t.equal(response.statusCode, status, `${method} ${url}`)
        t.notOk(response.headers.location, 'no redirect')
      }
    }
    for (const url of [`/api/posts/${id}`, `/api/posts/${(await create(ann.headers, { title: 'd', body: 'b' })).json().id}/`]) {
      t.equal((await app.inject({ method: 'DELETE', url, headers: ann.headers })).statusCode, 204, `DELETE ${url}`)
    }
    const key = { 'api-key': tenant.key }
    for (const url of ['/api/users/register', '/api/users/register/']) {
      const response = await app.inject({
        method: 'POST',
        url,
        headers: key,
        payload: { email: `s${url.length}@example.com`, password: 'password-1' },
      })
      t.equal(response.statusCode, 201, `POST ${url}`)
    }
    for (const url of ['/api/users/login', '/api/users/login/']) {
      const response = await app.inject({ method: 'POST', url, headers: key, payload: { email: ann.email, password: ann.password } })
      t.equal(response.statusCode, 200, `POST ${url}`)
      const refresh = response.json().refresh_token
      const refreshUrl = url.endsWith('/') ? '/api/users/token/refresh' : '/api/users/token/refresh/'
      const rotated = await app.inject({ method: 'POST', url: refreshUrl, headers: key, payload: { refresh_token: refresh } })
      t.equal(rotated.statusCode, 200, `POST ${refreshUrl}`)
      const logoutUrl = url.endsWith('/') ? '/api/users/logout' : '/api/users/logout/'
      t.equal(
        (await app.inject({ method: 'POST', url: logoutUrl, headers: key, payload: { refresh_token: rotated.json().refresh_token } }))
          .statusCode,
        204,
        `POST ${logoutUrl}`,
      )
    }
    for (const url of ['/healthz', '/healthz/', '/readyz', '/readyz/', '/swagger/json', '/swagger/json/']) {
      t.equal((await app.inject({ url })).statusCode, 200, url)
    }
  })
})
