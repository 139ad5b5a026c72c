import t from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { buildTestApp, setupDatabase } from '../helper.js'

const CONTRACT = {
  '/api/users/register/': ['post'],
  '/api/users/login/': ['post'],
  '/api/users/token/refresh/': ['post'],
  '/api/users/logout/': ['post'],
  '/api/users/me/': ['get'],
  '/api/posts/': ['get', 'post'],
  '/api/posts/{id}/': ['get', 'put', 'patch', 'delete'],
  '/healthz': ['get'],
  '/readyz': ['get'],
}

t.test('the OpenAPI document', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const response = await app.inject({ url: '/swagger/json' })
  t.equal(response.statusCode, 200)
  const doc = response.json()

  const result = await new Validator().validate(doc)
  t.ok(result.valid, `passes the OpenAPI 3 validator ${JSON.stringify(result.errors ?? '').slice(0, 500)}`)
  t.match(doc.openapi, /^3\./)

  const listed = Object.fromEntries(
    Object.entries(doc.paths as Record<string, object>).map(([path, item]) => [path, Object.keys(item).filter((k) => k !== 'parameters').sort()]),
  )
  t.same(listed, Object.fromEntries(Object.entries(CONTRACT).map(([p, m]) => [p, [...m].sort()])), 'every route of the contract, nothing else')

  t.match(doc.components.securitySchemes, {
    apiKey: { type: 'apiKey', in: 'header', name: 'api-key' },
    bearer: { type: 'http', scheme: 'bearer' },
  })
  for (const [path, methods] of Object.entries(CONTRACT)) {
    for (const method of methods) {
      const op = doc.paths[path][method]
      const where = `${method.toUpperCase()} ${path}`
      t.ok(op.summary, `${where} has a summary`)
      const security = JSON.stringify(op.security ?? [])
      if (path.startsWith('/api/')) t.match(security, /apiKey/, `${where} needs the api key`)
      if (path.startsWith('/api/posts') || path === '/api/users/me/') t.match(security, /bearer/, `${where} needs a bearer token`)
      const statuses = Object.keys(op.responses)
      t.ok(statuses.some((s) => s.startsWith('2')), `${where} documents its success`)
      if (path.startsWith('/api/')) {
        t.ok(statuses.includes('401'), `${where} documents 401`)
        const error = op.responses['401'].content['application/json'].schema
        t.same(Object.keys(error.properties).sort(), ['code', 'error', 'message', 'statusCode'], `${where} error shape`)
      }
      if (path.startsWith('/api/')) {
        const forbidden = op.responses['403']?.content?.['application/json']
        const codes = Object.values((forbidden?.examples ?? {}) as Record<string, { value: { code: string } }>).map((e) => e.value.code)
        t.ok(codes.includes('TENANT_SUSPENDED'), `${where} documents 403 TENANT_SUSPENDED with an example`)
        t.equal(codes.includes('INSUFFICIENT_SCOPE'), method !== 'get', `${where} ${method === 'get' ? 'is open to read keys' : 'documents 403 INSUFFICIENT_SCOPE with an example'}`)
      }
      if (['post', 'put', 'patch'].includes(method) && path.startsWith('/api/')) {
        t.ok(op.requestBody?.content?.['application/json']?.schema, `${where} documents its body`)
        t.ok(statuses.includes('400'), `${where} documents 400`)
      }
    }
  }
  t.ok(doc.paths['/api/users/login/'].post.responses['429'], 'login documents 429')
  t.ok(doc.paths['/api/users/register/'].post.responses['409'], 'register documents 409')
  t.ok(doc.paths['/api/posts/{id}/'].put.responses['403'] && doc.paths['/api/posts/{id}/'].get.responses['404'], '403 and 404 documented')
  const post = doc.paths['/api/posts/{id}/'].get.responses['200'].content['application/json'].schema
  t.same(Object.keys(post.properties).sort(), ['author_id', 'body', 'created_at', 'id', 'title', 'updated_at'])
  t.ok(JSON.stringify(doc).includes('"examples"') || JSON.stringify(doc).includes('"example"'), 'examples are given')

  const ui = await app.inject({ url: '/swagger/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.match(ui.body, /Swagger UI/)
  const noSlash = await app.inject({ url: '/swagger' })
  t.ok([200, 302].includes(noSlash.statusCode), '/swagger answers too')
})
