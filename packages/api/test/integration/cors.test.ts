import { request as httpRequest } from 'node:http'
import t, { type Test } from 'tap'
import { buildTestApp, makeTenant, registerAndLogin, setupDatabase, type TestContext } from '../helper.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One request over a real socket, with exactly the headers given (a browser's Origin too). */
function send(base: string, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

const APP = 'https://app.example.com'
const PREFLIGHT = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'api-key, authorization, content-type' }

async function listening(t: Test, ctx: TestContext, env: Record<string, string>): Promise<string> {
  const app = await buildTestApp(t, ctx, { env })
  return app.listen({ host: '127.0.0.1', port: 0 })
}

t.test('CORS is off by default: a preflight gets no CORS header', async (t) => {
  const ctx = await setupDatabase(t)
  const base = await listening(t, ctx, {})
  const preflight = await send(base, 'OPTIONS', '/api/posts/', { origin: APP, ...PREFLIGHT })
  t.equal(preflight.status, 405, 'no OPTIONS route without CORS')
  t.notOk(preflight.headers['access-control-allow-origin'])
  const plain = await send(base, 'GET', '/healthz', { origin: APP })
  t.equal(plain.status, 200)
  t.notOk(plain.headers['access-control-allow-origin'], 'no CORS header on a plain request either')
})

t.test('CORS_ORIGINS as a list: listed origins only, api-key and authorization allowed', async (t) => {
  const ctx = await setupDatabase(t)
  const base = await listening(t, ctx, { CORS_ORIGINS: `${APP}, http://localhost:5173` })
  const tenant = await makeTenant(ctx.services)

  const preflight = await send(base, 'OPTIONS', '/api/posts/', { origin: APP, ...PREFLIGHT })
  t.equal(preflight.status, 204, 'the preflight passes before any api-key check')
  t.equal(preflight.headers['access-control-allow-origin'], APP)
  const allowedHeaders = String(preflight.headers['access-control-allow-headers']).split(/,\s*/)
  for (const name of ['api-key', 'authorization', 'content-type']) t.ok(allowedHeaders.includes(name), `${name} allowed`)
  const methods = String(preflight.headers['access-control-allow-methods']).split(/,\s*/)
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) t.ok(methods.includes(method), `${method} allowed`)
  t.notOk(preflight.headers['access-control-allow-credentials'], 'never credentials')
  t.match(String(preflight.headers.vary), /Origin/i, 'Vary: Origin, as the answer depends on it')
  t.equal(preflight.headers['access-control-max-age'], '600')

  const other = await send(base, 'OPTIONS', '/api/posts/', { origin: 'https://evil.example.com', ...PREFLIGHT })
  t.notOk(other.headers['access-control-allow-origin'], 'an origin not listed gets no allow-origin')
  t.equal(
    (await send(base, 'OPTIONS', '/api/posts/', { origin: 'http://localhost:5173', ...PREFLIGHT })).headers['access-control-allow-origin'],
    'http://localhost:5173',
  )

  // The actual requests carry the headers too, errors included, so a page can read them.
  const refused = await send(base, 'GET', '/api/users/me/', { origin: APP })
  t.equal(refused.status, 401)
  t.equal(refused.headers['access-control-allow-origin'], APP, 'a 401 is readable by the page')
  t.match(JSON.parse(refused.body), { code: 'MISSING_API_KEY' })
  const app = await buildTestApp(t, ctx, { env: { CORS_ORIGINS: APP } })
  const user = await registerAndLogin(app, tenant)
  const me = await send(base, 'GET', '/api/users/me/', { origin: APP, ...user.headers })
  t.equal(me.status, 200, me.body)
  t.equal(me.headers['access-control-allow-origin'], APP)
  t.match(String(me.headers['access-control-expose-headers']), /x-request-id/, 'the request id is readable')
})

t.test('CORS_ORIGINS=*: any origin, without credentials', async (t) => {
  const ctx = await setupDatabase(t)
  const base = await listening(t, ctx, { CORS_ORIGINS: '*' })
  const preflight = await send(base, 'OPTIONS', '/api/users/login/', { origin: 'https://anywhere.example.org', ...PREFLIGHT })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers['access-control-allow-origin'], '*')
  t.notOk(preflight.headers['access-control-allow-credentials'])
  t.match(String(preflight.headers['access-control-allow-headers']), /api-key/)
  const health = await send(base, 'GET', '/healthz', { origin: 'https://anywhere.example.org' })
  t.equal(health.headers['access-control-allow-origin'], '*')
})
