/**
 * A tenant found by its host name (TENANT_RESOLUTION=api-key,host): by a domain and by a
 * subdomain of TENANT_BASE_DOMAIN; what a request without a key may do there; the key
 * deciding, and refused when the host names another tenant; X-Forwarded-Host only when
 * trusted; the OpenAPI document's security schemes.
 */
import t from 'tap'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { Validator } from '@seriousme/openapi-schema-validator'
import { declaredLicense } from '../../src/plugins/swagger.js'
import { assertError, buildTestApp, makeTenant, registerAndLogin, setupDatabase } from '../helper.js'

const HOST_ENV = { TENANT_RESOLUTION: 'api-key,host', TENANT_BASE_DOMAIN: 'tenants.test' }

t.test('found by host name: what a request without a key may do, and what it may not', async (t) => {
  const ctx = await setupDatabase(t, HOST_ENV)
  const app = await buildTestApp(t, ctx)
  const acme = await makeTenant(ctx.services, 'acme')
  const globex = await makeTenant(ctx.services, 'globex')
  await ctx.services.domains.addDomain(globex.schemaName, 'shop.globex.test')
  const acmeHost = `${acme.schemaName}.tenants.test`
  const globexHost = 'Shop.Globex.TEST:8443'
  const at = (host: string, method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}, payload?: object) =>
    app.inject({ method, url, headers: { host, ...headers }, ...(payload !== undefined && { payload }) })
  const credentials = { email: 'ada@example.com', password: 'correct horse battery' }

  assertError(t, await at(acmeHost, 'POST', '/api/users/register/', {}, credentials), 403, 'REGISTRATION_CLOSED')
  const [users] = await ctx.db.sql<{ n: number }[]>`select count(*)::int as n from ${ctx.db.sql(acme.schemaName)}.users`
  t.equal(users!.n, 0, 'nothing was written')
  await ctx.services.domains.setOpenRegistration(acme.schemaName, true)
  const registered = await at(acmeHost, 'POST', '/api/users/register/', {}, credentials)
  t.equal(registered.statusCode, 201, 'registration without a key while open registration is on')
  assertError(t, await at(globexHost, 'POST', '/api/users/register/', {}, credentials), 403, 'REGISTRATION_CLOSED')

  const login = await at(acmeHost.toUpperCase(), 'POST', '/api/users/login/', {}, credentials)
  t.equal(login.statusCode, 200, 'log in at the host name, in any case')
  const { access_token: token, refresh_token: refresh } = login.json()
  const bearer = { authorization: `Bearer ${token}` }
  t.equal((await at(acmeHost, 'GET', '/api/users/me/', bearer)).json().email, credentials.email)
  const post = await at(acmeHost, 'POST', '/api/posts/', bearer, { title: 'By host', body: 'no key' })
  t.equal(post.statusCode, 201, "what the user's token allows")
  t.equal((await at(`${acmeHost}.`, 'GET', '/api/posts/', bearer)).json().results[0].title, 'By host', 'a trailing dot is the same host')

  assertError(t, await at(acmeHost, 'GET', '/api/posts/'), 401, 'MISSING_API_KEY')
  assertError(t, await at(acmeHost, 'GET', '/api/users/me/'), 401, 'MISSING_API_KEY')
  assertError(t, await at(acmeHost, 'GET', '/api/posts/', { authorization: 'Bearer forged' }), 401, 'INVALID_ACCESS_TOKEN')
  assertError(t, await at(globexHost, 'GET', '/api/posts/', bearer), 401, 'TOKEN_TENANT_MISMATCH')
  assertError(t, await at(globexHost, 'POST', '/api/users/token/refresh/', {}, { refresh_token: refresh }), 401, 'INVALID_REFRESH_TOKEN')

  const refreshed = await at(acmeHost, 'POST', '/api/users/token/refresh/', {}, { refresh_token: refresh })
  t.equal(refreshed.statusCode, 200, 'refresh at the host name')
  const logout = await at(acmeHost, 'POST', '/api/users/logout/', {}, { refresh_token: refreshed.json().refresh_token })
  t.equal(logout.statusCode, 204, 'log out at the host name')
  assertError(
    t,
    await at(acmeHost, 'GET', '/api/users/me/', { authorization: `Bearer ${refreshed.json().access_token}` }),
    401,
    'ACCESS_TOKEN_REVOKED',
  )

  // The api key decides; a host naming another tenant is refused, not silently overridden.
  const globexUser = await registerAndLogin(app, globex)
  t.equal((await at(globexHost, 'GET', '/api/posts/', globexUser.headers)).statusCode, 200, "a key at its own tenant's host")
  t.equal((await at('api.example.com', 'GET', '/api/posts/', globexUser.headers)).statusCode, 200, 'a key at a host naming no tenant')
  t.equal((await at('127.0.0.1:8000', 'GET', '/api/posts/', globexUser.headers)).statusCode, 200, 'a key at an IP address')
  assertError(t, await at(acmeHost, 'GET', '/api/posts/', globexUser.headers), 403, 'HOST_TENANT_MISMATCH')
  assertError(t, await at(acmeHost, 'POST', '/api/users/login/', { 'api-key': globex.key }, credentials), 403, 'HOST_TENANT_MISMATCH')
  assertError(t, await at(acmeHost, 'GET', '/api/posts/', { 'api-key': 'tb_000000000000_nope' }), 401, 'INVALID_API_KEY')

  // Unknown hosts: one answer for all, naming nothing.
  const unknown = ['nobody.tenants.test', 'tenants.test', 'evil.example', '127.0.0.1', '[::1]:8000', 'localhost', `x.${acmeHost}`]
  const bodies = new Set<string>()
  for (const host of unknown) {
    const response = await at(host, 'GET', '/api/posts/', bearer)
    assertError(t, response, 404, 'TENANT_NOT_FOUND')
    bodies.add(response.body)
    t.notMatch(response.body, new RegExp(`${acme.schemaName}|${globex.schemaName}|globex|acme`), `${host}: nothing about tenants`)
  }
  t.equal(bodies.size, 1, 'every unknown host gets the same answer')

  // X-Forwarded-Host is not trusted without TRUST_PROXY.
  const again = (await at(acmeHost, 'POST', '/api/users/login/', {}, credentials)).json()
  const fresh = { authorization: `Bearer ${again.access_token}` }
  assertError(t, await at('proxy.internal', 'GET', '/api/posts/', { ...fresh, 'x-forwarded-host': acmeHost }), 404, 'TENANT_NOT_FOUND')
  t.equal(
    (await at(acmeHost, 'GET', '/api/posts/', { ...fresh, 'x-forwarded-host': 'shop.globex.test' })).statusCode,
    200,
    'an untrusted X-Forwarded-Host is ignored: the Host decides',
  )

  await ctx.services.tenants.suspendTenant(acme.schemaName)
  assertError(t, await at(acmeHost, 'POST', '/api/users/login/', {}, credentials), 403, 'TENANT_SUSPENDED')
  await ctx.services.tenants.resumeTenant(acme.schemaName)
  t.equal((await at(acmeHost, 'POST', '/api/users/login/', {}, credentials)).statusCode, 200, 'resumed')

  await ctx.services.domains.removeDomain('shop.globex.test')
  assertError(t, await at(globexHost, 'POST', '/api/users/login/', {}, credentials), 404, 'TENANT_NOT_FOUND')
})

t.test('X-Forwarded-Host names the tenant only from a proxy TRUST_PROXY trusts', async (t) => {
  const ctx = await setupDatabase(t, HOST_ENV)
  const trusted = await buildTestApp(t, ctx, { env: { ...HOST_ENV, TRUST_PROXY: 'true' } })
  const elsewhere = await buildTestApp(t, ctx, { env: { ...HOST_ENV, TRUST_PROXY: '10.9.9.9' } })
  const acme = await makeTenant(ctx.services, 'acme')
  await ctx.services.domains.setOpenRegistration(acme.schemaName, true)
  const request = { method: 'POST' as const, url: '/api/users/register/', payload: { email: 'x@example.com', password: 'password1' } }
  const forwarded = { host: 'api.internal', 'x-forwarded-host': `${acme.schemaName}.tenants.test` }
  t.equal((await trusted.inject({ ...request, headers: forwarded })).statusCode, 201, 'trusted: the forwarded host names the tenant')
  assertError(t, await elsewhere.inject({ ...request, headers: forwarded }), 404, 'TENANT_NOT_FOUND')
  const twice = await trusted.inject({
    ...request,
    payload: { email: 'y@example.com', password: 'password1' },
    headers: { host: 'api.internal', 'x-forwarded-host': `evil.example, ${acme.schemaName}.tenants.test` },
  })
  t.equal(twice.statusCode, 201, 'of a list, the last entry (the one the trusted proxy added) counts')
})

t.test('without host resolution: the api key alone, and no tenantHost in the OpenAPI document', async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  const acme = await makeTenant(ctx.services, 'acme')
  await ctx.services.domains.addDomain(acme.schemaName, 'acme.test')
  await ctx.services.domains.setOpenRegistration(acme.schemaName, true)
  const response = await app.inject({
    method: 'POST',
    url: '/api/users/register/',
    headers: { host: 'acme.test' },
    payload: { email: 'x@example.com', password: 'password1' },
  })
  assertError(t, response, 401, 'MISSING_API_KEY')
  const document = (await app.inject('/swagger/json')).json()
  t.notOk('tenantHost' in document.components.securitySchemes, 'no tenantHost scheme')
  t.notMatch(JSON.stringify(document.paths), /tenantHost/, 'no route offers it')
  t.same(document.paths['/api/users/login/'].post.security, [{ apiKey: [] }])

  const hostCtx = await setupDatabase(t, HOST_ENV)
  const hostApp = await buildTestApp(t, hostCtx)
  const source = (await hostApp.inject('/swagger/json')).body
  const hostDocument = JSON.parse(source)
  // As openapi.test.ts lints the default document: Redocly's recommended rules, less the two it explains.
  const config = await createConfig({
    extends: ['recommended'],
    rules: { 'no-path-trailing-slash': 'off', ...(declaredLicense() === undefined && { 'info-license': 'off' }) },
  })
  const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config })
  t.same(
    problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`),
    [],
    'the document with tenantHost is lint-clean',
  )
  const validated = await new Validator().validate(hostDocument)
  t.ok(validated.valid, `a valid OpenAPI document ${JSON.stringify(validated.errors ?? '')}`)
  t.match(hostDocument.components.securitySchemes.tenantHost, { type: 'apiKey', in: 'header', name: 'Host' })
  t.same(hostDocument.paths['/api/users/login/'].post.security, [{ apiKey: [] }, { tenantHost: [] }])
  t.same(hostDocument.paths['/api/posts/'].get.security, [
    { apiKey: [], bearer: [] },
    { tenantHost: [], bearer: [] },
  ])
})
