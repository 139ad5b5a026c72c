/**
 * The proxy path, for real: Debian's nginx running the project's own nginx template
 * (rendered for loopback, as the nginx image renders it for compose) in front of TWO API
 * processes sharing one PostgreSQL. The API finds tenants by api key and by host name
 * (TENANT_RESOLUTION=api-key,host): by a subdomain of the base domain through the template's
 * wildcard server block, and by a tenant's own domain through its default one.
 */
import { execFile } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { createServices } from '@tenantbase/core'
import { createTestDatabase } from '@tenantbase/core/testing'
import { root, startApiProcesses, startNginx } from './nginx.ts'

const run = promisify(execFile)
const JWT_SECRET = 'proxy-test-secret-0123456789abcdef0123456789'
/** The API's TENANT_BASE_DOMAIN, and the nginx template's. */
const BASE_DOMAIN = 'tenants.test'
/** How long a revoked key may still be accepted before the test gives up (a hang guard, not the target). */
const REVOCATION_HANG_GUARD_MS = 30_000

interface HostResponse {
  readonly status: number
  readonly body: Record<string, unknown> | undefined
  readonly text: string
}

/**
 * One request to 127.0.0.1:`port` with the `Host` header given (fetch sets its own), for a
 * tenant found by its host name. `headers` may repeat a header (a list of [name, value]).
 */
function callAt(
  port: number,
  host: string,
  method: string,
  urlPath: string,
  options: { body?: unknown; token?: string; key?: string; headers?: [string, string][] } = {},
): Promise<HostResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  const headers: string[] = ['Host', host]
  if (payload !== undefined) headers.push('Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(payload)))
  if (options.token) headers.push('Authorization', `Bearer ${options.token}`)
  if (options.key) headers.push('api-key', options.key)
  for (const [name, value] of options.headers ?? []) headers.push(name, value)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: urlPath, headers, setHost: false }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      res.on('end', () => {
        let body: Record<string, unknown> | undefined
        try {
          body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined
        } catch {
          body = undefined
        }
        resolve({ status: res.statusCode ?? 0, body, text })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

t.test('two API processes behind nginx', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const services = await createServices({ sql: db.sql })
  await services.migrateAll()
  const { tenant, apiKey } = await services.tenants.createTenant({ name: 'Proxied', schemaName: 'proxied' })
  const spare = await services.apiKeys.issueApiKey(tenant, { name: 'spare' })

  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    JWT_SECRET,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TRUST_PROXY: '127.0.0.1',
    TENANT_RESOLUTION: 'api-key,host',
    TENANT_BASE_DOMAIN: BASE_DOMAIN,
    BCRYPT_COST: '10',
    // Only NOTIFY can evict a cached key within the test's time.
    API_KEY_CACHE_TTL_MS: '3600000',
  }
  // Each process counts its requests per tenant on a metrics port of its own: where a tenant's requests went.
  const { ports: apiPorts, metricsPorts, processes: apis } = await startApiProcesses(t, 2, env, { metricsPerTenant: 100 })
  const { port: nginxPort, url: proxy } = await startNginx(t, apiPorts, { baseDomain: BASE_DOMAIN })

  const call = async (method: string, url: string, opts: { key?: string; token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = {}
    if (opts.key) headers['api-key'] = opts.key
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) })
    const text = await response.text()
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined }
  }

  await t.test('the whole user and post flow through nginx', async (t) => {
    const key = apiKey.key
    const registered = await call('POST', `${proxy}/api/users/register/`, { key, body: { email: 'p@example.com', password: 'password1' } })
    t.equal(registered.status, 201)
    const login = await call('POST', `${proxy}/api/users/login`, { key, body: { email: 'p@example.com', password: 'password1' } })
    t.equal(login.status, 200, 'no trailing slash works through the proxy too')
    const token = login.body.access_token as string
    const me = await call('GET', `${proxy}/api/users/me/`, { key, token })
    t.equal(me.body.email, 'p@example.com')
    const created = await call('POST', `${proxy}/api/posts/`, { key, token, body: { title: 'Via nginx', body: 'x'.repeat(5000) } })
    t.equal(created.status, 201)
    const listed = await fetch(`${proxy}/api/posts/`, {
      headers: { 'api-key': key, authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' },
    })
    t.equal(listed.status, 200)
    t.equal(listed.headers.get('content-encoding'), 'gzip', 'JSON is gzipped by nginx')
    t.equal((await listed.json()).results[0].title, 'Via nginx')
    t.ok(listed.headers.get('x-request-id'), 'a request id is passed back')
    const patched = await call('PATCH', `${proxy}/api/posts/${created.body.id}/`, { key, token, body: { title: 'Edited' } })
    t.equal(patched.body.title, 'Edited')
    t.equal((await call('DELETE', `${proxy}/api/posts/${created.body.id}`, { key, token })).status, 204)
    const keyless = await call('GET', `${proxy}/api/posts/`, { token })
    t.same([keyless.status, keyless.body.code], [404, 'TENANT_NOT_FOUND'], 'no api-key at a host naming no tenant (an IP address): 404')
    const huge = await fetch(`${proxy}/api/posts/`, {
      method: 'POST',
      headers: { 'api-key': key, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'big', body: 'x'.repeat(2 * 1024 * 1024) }),
    })
    t.equal(huge.status, 413, 'the body limit holds at the proxy')
    const swagger = await fetch(`${proxy}/swagger/json`)
    t.equal(swagger.status, 200, 'swagger is proxied')
  })

  /** Requests each API process has answered for `schemaName`, from its own metrics. */
  const tenantRequests = async (schemaName: string): Promise<number[]> =>
    Promise.all(
      metricsPorts.map(async (port) => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        let total = 0
        for (const [, labels, value] of text.matchAll(/^tenantbase_tenant_requests_total\{([^}]*)\} (\d+)$/gm))
          if (labels!.includes(`tenant="${schemaName}"`)) total += Number(value)
        return total
      }),
    )

  await t.test("tenant-affine routing: a tenant's requests all reach one API process, by api key and by host", async (t) => {
    const others = await Promise.all(
      ['affine_a', 'affine_b', 'affine_c', 'affine_d'].map((schemaName) => services.tenants.createTenant({ name: schemaName, schemaName })),
    )
    const user = { email: 'affine@example.com', password: 'password1' }
    const byKey = [{ tenant, key: apiKey.key }, ...others.map((o) => ({ tenant: o.tenant, key: o.apiKey.key }))]
    const placed: number[] = []
    for (const { tenant: each, key } of byKey) {
      if (each.schemaName !== 'proxied') await call('POST', `${proxy}/api/users/register/`, { key, body: user })
      const email = each.schemaName === 'proxied' ? 'p@example.com' : user.email
      const login = await call('POST', `${proxy}/api/users/login/`, { key, body: { email, password: 'password1' } })
      t.equal(login.status, 200, `${each.schemaName}: logged in through nginx`)
      const before = await tenantRequests(each.schemaName)
      for (let i = 0; i < 12; i++) {
        const listed = await call('GET', `${proxy}/api/posts/`, { key, token: login.body.access_token as string })
        t.equal(listed.status, 200)
      }
      const grown = (await tenantRequests(each.schemaName)).map((n, i) => n - before[i]!)
      t.same(
        [...grown].sort((a, b) => a - b),
        [0, 12],
        `${each.schemaName}: its 12 requests by api key all reached one process (${grown.join(' / ')})`,
      )
      placed.push(grown.indexOf(12))
    }
    t.comment(`the ${byKey.length} tenants by api key were placed on processes ${placed.map((i) => i + 1).join(', ')}`)

    // A tenant found by its host name (no api key): hashed by the host.
    const login = await call('POST', `${proxy}/api/users/login/`, {
      key: apiKey.key,
      body: { email: 'p@example.com', password: 'password1' },
    })
    const token = login.body.access_token as string
    const before = await tenantRequests('proxied')
    for (let i = 0; i < 12; i++) t.equal((await callAt(nginxPort, `proxied.${BASE_DOMAIN}`, 'GET', '/api/posts/', { token })).status, 200)
    const grown = (await tenantRequests('proxied')).map((n, i) => n - before[i]!)
    t.same(
      [...grown].sort((a, b) => a - b),
      [0, 12],
      `by host: its 12 requests all reached one process (${grown.join(' / ')})`,
    )
  })

  await t.test('a key revoked with tenantctl is rejected by both API processes', async (t) => {
    const perProcess = apiPorts.map((port) => `http://127.0.0.1:${port}/api/posts/`)
    const login = await call('POST', `${proxy}/api/users/login/`, {
      key: apiKey.key,
      body: { email: 'p@example.com', password: 'password1' },
    })
    const token = login.body.access_token as string
    for (const url of perProcess) t.equal((await call('GET', url, { key: apiKey.key, token })).status, 200, `cached in ${url}`)

    await run(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), 'keys', 'revoke', apiKey.prefix], { env })
    const revokedAt = performance.now()
    for (const url of perProcess) {
      let status = 200
      // Only against a hang: the key cache lives an hour, so only a heard NOTIFY refuses the key.
      while (status !== 401 && performance.now() - revokedAt < REVOCATION_HANG_GUARD_MS) {
        status = (await call('GET', url, { key: apiKey.key, token })).status
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const refusedAfterMs = performance.now() - revokedAt
      t.equal(status, 401, `${url} rejects the revoked key (after ${refusedAfterMs.toFixed(0)} ms)`)
      t.comment(`${url} refused the revoked key ${refusedAfterMs.toFixed(0)} ms after tenantctl revoked it (target 1 s)`)
    }
  })

  await t.test(
    'tenants by host name through nginx: subdomain, custom domain, open registration, tokens bound, a removed domain',
    async (t) => {
      const hosted = await services.tenants.createTenant({ name: 'Hosted', schemaName: 'hosted', domains: ['shop.hosted.test'] })
      await services.tenants.createTenant({ name: 'Closed', schemaName: 'closed' })
      const cli = (...args: string[]) => run(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), ...args], { env })
      await cli('registration', 'hosted', 'open')
      const via = (host: string, method: string, urlPath: string, options: Parameters<typeof callAt>[4] = {}) =>
        callAt(nginxPort, host, method, urlPath, options)
      const user = { email: 'h@example.com', password: 'password1' }

      const closed = await via(`closed.${BASE_DOMAIN}`, 'POST', '/api/users/register/', { body: user })
      t.same([closed.status, closed.body?.code], [403, 'REGISTRATION_CLOSED'], 'registration without a key is closed by default')
      const registered = await via(`Hosted.${BASE_DOMAIN}`, 'POST', '/api/users/register/', { body: user })
      t.equal(registered.status, 201, 'registered at the subdomain, without a key, where open registration is on')
      const login = await via(`hosted.${BASE_DOMAIN}`, 'POST', '/api/users/login', { body: user })
      t.equal(login.status, 200, 'logged in at the subdomain')
      const token = login.body!.access_token as string
      const post = await via(`hosted.${BASE_DOMAIN}`, 'POST', '/api/posts/', { token, body: { title: 'By subdomain', body: '' } })
      t.equal(post.status, 201, "the user's token allows what it allows")
      const byDomain = await via('SHOP.hosted.test', 'POST', '/api/users/login/', { body: user })
      t.equal(byDomain.status, 200, 'logged in at the custom domain (default server block)')
      const listed = await via('shop.hosted.test', 'GET', '/api/posts/', { token: byDomain.body!.access_token as string })
      t.equal((listed.body?.results as { title: string }[])[0]?.title, 'By subdomain', 'the same tenant at both host names')

      const keyless = await via('shop.hosted.test', 'GET', '/api/posts/')
      t.same([keyless.status, keyless.body?.code], [401, 'MISSING_API_KEY'], 'no key and no token: nothing but login and registration')
      const crossed = await via(`closed.${BASE_DOMAIN}`, 'GET', '/api/posts/', { token })
      t.same([crossed.status, crossed.body?.code], [401, 'TOKEN_TENANT_MISMATCH'], "a token of one tenant at another tenant's host")
      const mismatch = await via('shop.hosted.test', 'GET', '/api/posts/', { key: spare.key, token })
      t.same([mismatch.status, mismatch.body?.code], [403, 'HOST_TENANT_MISMATCH'], "an api key at another tenant's host")
      const spoofed = await via(`closed.${BASE_DOMAIN}`, 'GET', '/api/posts/', {
        token,
        headers: [['X-Forwarded-Host', 'shop.hosted.test']],
      })
      t.same([spoofed.status, spoofed.body?.code], [401, 'TOKEN_TENANT_MISMATCH'], "a client's X-Forwarded-Host is replaced by nginx")
      for (const host of [`nobody.${BASE_DOMAIN}`, 'unknown.example', BASE_DOMAIN]) {
        const unknown = await via(host, 'POST', '/api/users/login/', { body: user })
        t.same([unknown.status, unknown.body?.code], [404, 'TENANT_NOT_FOUND'], `${host}: 404`)
        t.notMatch(unknown.text, /hosted|closed|proxied/i, `${host}: nothing about tenants`)
      }
      const hostile = [
        `HOSTED.${BASE_DOMAIN.toUpperCase()}.`,
        `hosted.${BASE_DOMAIN}:9999`,
        '127.0.0.1',
        '[::1]',
        'xn--bcher-kva.example',
        'bücher.example',
        'a'.repeat(300),
        'x'.repeat(70) + '.' + BASE_DOMAIN,
        '',
        'a b',
        'host/../x',
      ]
      const statuses: number[] = []
      for (const host of hostile) statuses.push((await via(host, 'POST', '/api/users/login/', { body: user })).status)
      t.ok(
        statuses.every((status) => status < 500),
        `hostile Host headers through nginx are never a 5xx (${statuses.join(', ')})`,
      )

      // Both processes hold the domain in their caches (which live an hour: only NOTIFY evicts them).
      const direct = apiPorts.map((port) => (host: string) => callAt(port, host, 'POST', '/api/users/login/', { body: user }))
      for (const [i, login] of direct.entries())
        t.equal((await login('shop.hosted.test')).status, 200, `process ${i + 1} serves the domain`)
      await cli('domains', 'remove', 'shop.hosted.test')
      const removedAt = performance.now()
      for (const [i, login] of direct.entries()) {
        let status = 200
        while (status !== 404 && performance.now() - removedAt < REVOCATION_HANG_GUARD_MS) {
          status = (await login('shop.hosted.test')).status
          if (status !== 404) await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const refusedAfterMs = performance.now() - removedAt
        t.equal(status, 404, `process ${i + 1} refuses the removed domain (after ${refusedAfterMs.toFixed(0)} ms)`)
        t.comment(`API process ${i + 1} refused the removed domain ${refusedAfterMs.toFixed(0)} ms after tenantctl removed it (target 1 s)`)
      }
      t.equal((await via(`hosted.${BASE_DOMAIN}`, 'POST', '/api/users/login/', { body: user })).status, 200, 'the subdomain still serves')
      t.ok(hosted.domains.length === 1)
    },
  )

  await t.test('with one API process killed, requests keep succeeding through the other', async (t) => {
    const login = await call('POST', `${proxy}/api/users/login/`, {
      key: spare.key,
      body: { email: 'p@example.com', password: 'password1' },
    })
    const token = login.body.access_token as string
    apis[0]!.kill('SIGKILL')
    await new Promise((resolve) => apis[0]!.once('exit', resolve))
    const statuses = []
    for (let i = 0; i < 20; i++) {
      statuses.push((await call('GET', `${proxy}/api/posts/`, { key: spare.key, token })).status)
      statuses.push((await call('POST', `${proxy}/api/posts/`, { key: spare.key, token, body: { title: `after ${i}`, body: '' } })).status)
    }
    t.same([...new Set(statuses)].sort(), [200, 201], 'every request succeeded')
    const page = await call('GET', `${proxy}/api/posts/?limit=100`, { key: spare.key, token })
    t.equal(page.body.results.length, 20, 'each POST was applied exactly once')
  })
})

t.test('compose.local.yml validates', async (t) => {
  const { stdout } = await run('docker-compose', ['-f', path.join(root, 'compose.local.yml'), 'config'], { cwd: root })
  t.match(stdout, /nginx:/)
  const postgres = /\n {2}postgres:\n((?: {4}.*\n)+)/.exec(stdout)?.[1]
  t.ok(postgres, 'the postgres service is there')
  t.notMatch(postgres, /ports:/, 'PostgreSQL is not published by default')
  const { stdout: opted } = await run(
    'docker-compose',
    ['-f', path.join(root, 'compose.local.yml'), '--profile', 'publish-postgres', 'config', '--services'],
    { cwd: root },
  )
  t.match(opted, /postgres-published/, 'publishing it is an opt-in profile')
})
