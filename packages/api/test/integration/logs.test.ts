import { Writable } from 'node:stream'
import t from 'tap'
import { buildTestApp, makeTenant, setupDatabase } from '../helper.js'

t.test('a full flow logs request ids and tenant ids, and no secret', async (t) => {
  const ctx = await setupDatabase(t)
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  const app = await buildTestApp(t, ctx, { logStream: stream })
  const tenant = await makeTenant(ctx.services)
  const key = { 'api-key': tenant.key }
  const password = 'a-password-that-must-not-leak'
  const email = 'leak-check@example.com'

  const secrets: string[] = [tenant.key, password]
  await app.inject({ method: 'POST', url: '/api/users/register/', headers: key, payload: { email, password } })
  await app.inject({ method: 'POST', url: '/api/users/register/', headers: key, payload: { email, password } }) // 409
  await app.inject({ method: 'POST', url: '/api/users/login/', headers: key, payload: { email, password: `${password}-wrong` } })
  secrets.push(`${password}-wrong`)
  const login = (await app.inject({ method: 'POST', url: '/api/users/login/', headers: key, payload: { email, password } })).json()
  secrets.push(login.access_token, login.refresh_token)
  const auth = { ...key, authorization: `Bearer ${login.access_token}` }
  await app.inject({ url: '/api/users/me/', headers: auth })
  const post = (await app.inject({ method: 'POST', url: '/api/posts/', headers: auth, payload: { title: 't', body: 'b' } })).json()
  await app.inject({ url: `/api/posts/${post.id}/`, headers: auth })
  await app.inject({ method: 'PATCH', url: `/api/posts/${post.id}/`, headers: auth, payload: { title: 'u' } })
  await app.inject({ url: '/api/posts/?limit=5', headers: auth })
  await app.inject({
    method: 'POST',
    url: '/api/posts/',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: `{"title": "${password}`,
  })
  const refreshed = (
    await app.inject({ method: 'POST', url: '/api/users/token/refresh/', headers: key, payload: { refresh_token: login.refresh_token } })
  ).json()
  secrets.push(refreshed.access_token, refreshed.refresh_token)
  await app.inject({ method: 'POST', url: '/api/users/token/refresh/', headers: key, payload: { refresh_token: login.refresh_token } }) // reuse
  await app.inject({ method: 'POST', url: '/api/users/logout/', headers: key, payload: { refresh_token: refreshed.refresh_token } })
  await app.inject({
    url: '/api/users/me/',
    headers: { 'api-key': `${tenant.key.slice(0, -4)}AAAA`, authorization: `Bearer ${login.access_token}` },
  })
  await app.inject({ method: 'DELETE', url: `/api/posts/${post.id}/`, headers: auth })
  await app.inject({ url: '/readyz' })

  t.ok(lines.length >= 16, `logs were captured (${lines.length} lines)`)
  const all = lines.join('\n')
  for (const secret of secrets) {
    t.notOk(all.includes(secret), `no secret in the logs: ${secret.slice(0, 6)}...`)
    // Also no large piece of it (a key's random part, a token's signature).
    t.notOk(all.includes(secret.slice(-20)), 'nor its tail')
  }
  t.notOk(all.includes(tenant.key.slice(16)), "not the key's secret part")

  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  const completed = parsed.filter((line) => line.msg === 'request completed')
  t.ok(completed.length === 16, 'one completed line per request')
  t.ok(
    completed.every((line) => typeof line.reqId === 'string' && (line.reqId as string).length > 0),
    'each has the request id',
  )
  const apiLines = completed.filter((line) => String(line.path).startsWith('/api/'))
  t.equal(apiLines.length, 15)
  const withoutTenant = apiLines.filter((line) => line.tenantId !== tenant.id)
  t.equal(withoutTenant.length, 1, 'each /api/ line has the tenant id...')
  t.equal(withoutTenant[0]?.statusCode, 401, '...but the one whose api key was refused')
  t.ok(
    completed.some((line) => line.statusCode === 409),
    'statuses are logged',
  )
  t.ok(completed.every((line) => typeof line.ms === 'number' && typeof line.method === 'string'))
  t.notOk(all.includes('limit=5'), 'query strings are not logged')
})
