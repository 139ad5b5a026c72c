import { readFile } from 'node:fs/promises'
import t from 'tap'
import type { InjectOptions } from 'fastify'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { Validator } from '@seriousme/openapi-schema-validator'
import { declaredLicense } from '../../src/plugins/swagger.js'
import { API_ERRORS, errorBody, type ApiErrorCode } from '../../src/schemas/errors.js'
import { buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

const CONTRACT = {
  '/': ['get'],
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
    Object.entries(doc.paths as Record<string, object>).map(([path, item]) => [
      path,
      Object.keys(item)
        .filter((k) => k !== 'parameters')
        .sort(),
    ]),
  )
  t.same(
    listed,
    Object.fromEntries(Object.entries(CONTRACT).map(([p, m]) => [p, [...m].sort()])),
    'every route of the contract, nothing else',
  )

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
      t.ok(
        statuses.some((s) => s.startsWith('2')),
        `${where} documents its success`,
      )
      if (path.startsWith('/api/')) {
        t.ok(statuses.includes('401'), `${where} documents 401`)
        const error = op.responses['401'].content['application/json'].schema
        t.same(Object.keys(error.properties).sort(), ['code', 'error', 'message', 'statusCode'], `${where} error shape`)
      }
      if (path.startsWith('/api/')) {
        const forbidden = op.responses['403']?.content?.['application/json']
        const codes = Object.values((forbidden?.examples ?? {}) as Record<string, { value: { code: string } }>).map((e) => e.value.code)
        t.ok(codes.includes('TENANT_SUSPENDED'), `${where} documents 403 TENANT_SUSPENDED with an example`)
        t.equal(
          codes.includes('INSUFFICIENT_SCOPE'),
          method !== 'get',
          `${where} ${method === 'get' ? 'is open to read keys' : 'documents 403 INSUFFICIENT_SCOPE with an example'}`,
        )
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

  const initializer = await app.inject({ url: '/swagger/static/swagger-initializer.js' })
  t.equal(initializer.statusCode, 200)
  t.match(initializer.body, /"persistAuthorization":\s*true/, 'Swagger UI keeps the authorization across reloads')

  const ui = await app.inject({ url: '/swagger/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.match(ui.body, /Swagger UI/)
  const noSlash = await app.inject({ url: '/swagger' })
  t.ok([200, 302].includes(noSlash.statusCode), '/swagger answers too')
})

interface Operation {
  operationId?: string
  security?: unknown[]
  parameters?: { in: string; name: string; required?: boolean; schema?: { default?: unknown } }[]
  responses: Record<
    string,
    { description: string; content?: Record<string, { examples?: Record<string, { value: Record<string, unknown> }> }> }
  >
}

t.test('the OpenAPI document is lint-clean and its error examples are true', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const source = (await app.inject({ url: '/swagger/json' })).body
  const doc = JSON.parse(source)

  // Redocly's recommended rules, less the one the contract breaks on purpose (every path
  // ends with a slash, as the original's did), and the license one while the package
  // declares no license (the document names none rather than a guess).
  const license = declaredLicense()
  const config = await createConfig({
    extends: ['recommended'],
    rules: { 'no-path-trailing-slash': 'off', ...(license === undefined && { 'info-license': 'off' }) },
  })
  const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config })
  t.same(
    problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`),
    [],
    'no error and no warning',
  )
  t.ok(doc.servers?.length > 0, 'servers')
  const { license: declared } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { license?: string }
  t.same(doc.info.license, license, "the license is package.json's")
  t.equal(doc.info.license?.name, declared, `package.json's license field (${declared ?? 'none'})`)
  t.not(doc.info.license?.name, 'UNLICENSED', 'never the npm placeholder')

  const operations = Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, path, op })),
  )
  t.equal(operations.length, 14, 'every operation')
  const ids = operations.map(({ op }) => op.operationId)
  t.ok(ids.every(Boolean), 'every operation has an operationId')
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique')
  // The health routes' documented answers are the ones they give.
  for (const path of ['/healthz', '/readyz']) {
    const documented = doc.paths[path].get.responses['200'].content['application/json'].schema.properties.status.example
    t.equal(documented, (await app.inject({ url: path })).json().status, `${path}: its example is its answer`)
  }
  // One name per operation across the layers: PATCH is core's patchPost, PUT its replacePost.
  const postOperations = operations.filter(({ path }) => path.startsWith('/api/posts/')).map(({ op }) => op.operationId)
  t.same(postOperations.sort(), Object.keys(ctx.services.posts).sort(), "the posts routes' operationIds are core's post functions")

  for (const { where, path, op } of operations) {
    if (!path.startsWith('/api/')) t.same(op.security, [], `${where}: security [] (no authentication)`)
    for (const parameter of op.parameters ?? []) {
      if (parameter.in === 'path') continue
      t.notOk(parameter.required && parameter.schema?.default !== undefined, `${where} ${parameter.name}: a default is never required`)
      t.equal(parameter.required, false, `${where} ${parameter.name}: optional`)
    }
    const shown = new Map<string, string>()
    for (const [status, response] of Object.entries(op.responses)) {
      if (status.startsWith('2')) continue
      const examples = response.content?.['application/json']?.examples ?? {}
      const codes = Object.keys(examples)
      t.ok(codes.length > 0, `${where} ${status}: examples`)
      for (const [code, { value }] of Object.entries(examples)) {
        const known = API_ERRORS[code as keyof typeof API_ERRORS]
        t.ok(known, `${where} ${status}: ${code} is a code of the API`)
        const inRange = status === '4XX' ? String(value.statusCode).startsWith('4') : String(value.statusCode) === status
        t.ok(inRange && value.statusCode === known?.status, `${where} ${status}: ${code}'s example is a ${status}`)
        t.same(Object.keys(value).sort(), ['code', 'error', 'message', 'statusCode'], `${where} ${code}: the error shape`)
        t.equal(value.code, code)
        t.notOk(shown.has(code), `${where}: ${code} is shown under one status only`)
        shown.set(code, status)
        t.match(response.description, code, `${where} ${status}: the description names ${code}`)
      }
    }
  }

  const codesOf = (path: string, method: string, status: string) =>
    Object.keys(doc.paths[path][method].responses[status]?.content['application/json'].examples ?? {}).sort()
  t.same(codesOf('/readyz', 'get', '503'), ['DATABASE_UNAVAILABLE', 'REVOCATIONS_NOT_HEARD'])
  t.same(codesOf('/api/users/login/', 'post', '429'), ['TOO_MANY_LOGIN_ATTEMPTS', 'TOO_MANY_REQUESTS'])
  t.same(codesOf('/api/users/login/', 'post', '401'), ['INVALID_API_KEY', 'INVALID_CREDENTIALS', 'MISSING_API_KEY'])
  t.same(codesOf('/api/users/register/', 'post', '409'), ['EMAIL_TAKEN', 'IDEMPOTENCY_KEY_IN_USE'])
  t.same(codesOf('/api/users/register/', 'post', '413'), ['PAYLOAD_TOO_LARGE'])
  t.same(codesOf('/api/users/register/', 'post', '415'), ['UNSUPPORTED_MEDIA_TYPE'])
  t.same(codesOf('/api/posts/', 'get', '400'), ['INVALID_CURSOR', 'VALIDATION_FAILED'])
  t.same(codesOf('/api/posts/{id}/', 'put', '403'), ['HOST_TENANT_MISMATCH', 'INSUFFICIENT_SCOPE', 'NOT_POST_AUTHOR', 'TENANT_SUSPENDED'])
  t.same(codesOf('/api/posts/{id}/', 'get', '403'), ['HOST_TENANT_MISMATCH', 'TENANT_SUSPENDED'], 'a reading route: no scope refusal')
  t.same(codesOf('/api/posts/{id}/', 'delete', '404'), ['POST_NOT_FOUND', 'TENANT_NOT_FOUND'])
  t.same(codesOf('/api/users/me/', 'get', '401'), [
    'ACCESS_TOKEN_REVOKED',
    'INVALID_ACCESS_TOKEN',
    'INVALID_API_KEY',
    'MISSING_ACCESS_TOKEN',
    'MISSING_API_KEY',
    'TOKEN_TENANT_MISMATCH',
  ])
  t.notOk(doc.paths['/api/users/me/'].get.responses['400'], 'a route without input documents no 400')
  t.notOk(doc.paths['/api/posts/{id}/'].get.responses['415'], 'a route without a body documents no 415')
})

t.test("the document's examples are what the API answers, word for word", async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const tenant = await makeTenant(ctx.services)
  const other = await makeTenant(ctx.services, 'other')
  const ann = await registerAndLogin(app, tenant, 'ann')
  const bob = await registerAndLogin(app, tenant, 'bob')
  const post = (
    await app.inject({ method: 'POST', url: '/api/posts/', headers: ann.headers, payload: { title: 'Hello', body: 'x' } })
  ).json()
  const key = { 'api-key': tenant.key }
  const cases: [ApiErrorCode, InjectOptions][] = [
    ['VALIDATION_FAILED', { method: 'POST', url: '/api/posts/', headers: ann.headers, payload: { title: '' } }],
    ['INVALID_JSON', { method: 'POST', url: '/api/posts/', headers: { ...ann.headers, 'content-type': 'application/json' }, payload: '{' }],
    [
      'FORBIDDEN_JSON_KEY',
      {
        method: 'POST',
        url: '/api/posts/',
        headers: { ...ann.headers, 'content-type': 'application/json' },
        payload: '{"title":"x","body":"y","__proto__":{}}',
      },
    ],
    ['INVALID_CURSOR', { url: '/api/posts/?cursor=nope', headers: ann.headers }],
    ['MISSING_API_KEY', { url: '/api/users/me/' }],
    ['INVALID_API_KEY', { url: '/api/users/me/', headers: { 'api-key': 'nope' } }],
    ['MISSING_ACCESS_TOKEN', { url: '/api/users/me/', headers: key }],
    ['INVALID_ACCESS_TOKEN', { url: '/api/users/me/', headers: { ...key, authorization: 'Bearer nope' } }],
    ['TOKEN_TENANT_MISMATCH', { url: '/api/users/me/', headers: { 'api-key': other.key, authorization: ann.headers.authorization! } }],
    [
      'INVALID_CREDENTIALS',
      { method: 'POST', url: '/api/users/login/', headers: key, payload: { email: ann.email, password: 'wrong password' } },
    ],
    ['INVALID_REFRESH_TOKEN', { method: 'POST', url: '/api/users/token/refresh/', headers: key, payload: { refresh_token: 'rt_nope' } }],
    ['NOT_POST_AUTHOR', { method: 'DELETE', url: `/api/posts/${post.id}/`, headers: bob.headers }],
    ['POST_NOT_FOUND', { url: '/api/posts/987654/', headers: ann.headers }],
    ['ROUTE_NOT_FOUND', { url: '/api/nowhere/', headers: ann.headers }],
    ['METHOD_NOT_ALLOWED', { method: 'PATCH', url: '/api/posts/', headers: ann.headers }],
    ['EMAIL_TAKEN', { method: 'POST', url: '/api/users/register/', headers: key, payload: { email: ann.email, password: 'long enough' } }],
    [
      'PAYLOAD_TOO_LARGE',
      { method: 'POST', url: '/api/posts/', headers: ann.headers, payload: { title: 'x', body: 'x'.repeat(1024 * 1024) } },
    ],
    [
      'UNSUPPORTED_MEDIA_TYPE',
      { method: 'POST', url: '/api/posts/', headers: { ...ann.headers, 'content-type': 'text/plain' }, payload: 'x' },
    ],
  ]
  for (const [code, request] of cases) {
    const response = await app.inject(request)
    const expected =
      code === 'VALIDATION_FAILED'
        ? { ...errorBody(code), message: 'body is required; title must be 1 to 200 characters' }
        : errorBody(code)
    t.same(response.json(), expected, `${code}: ${API_ERRORS[code].example}`)
  }
  t.equal(API_ERRORS.VALIDATION_FAILED.example, 'body is required; title must be 1 to 200 characters')
})
