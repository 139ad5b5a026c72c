/**
 * Hostile input: every route fuzzed with fast-check. Wrong types, huge and
 * empty strings, unicode (lone surrogates, RTL overrides, emoji), NUL bytes, SQL and JSON
 * metacharacters, deep nesting, duplicate and prototype keys, bad and repeated headers, odd
 * content types, bad path params and query strings. For every request:
 * - no 5xx;
 * - every error is `{statusCode, code, error, message}` with the response's status;
 * - a rejected request (4xx) changed nothing: a digest of every table of both tenants and
 *   of the shared schema is the same before and after it.
 * At the end the app still answers a normal request. A last test sends malformed HTTP over
 * a real socket (NUL in a header, a repeated api-key header, a broken request line).
 */
import { connect } from 'node:net'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import {
  assertError,
  buildTestApp,
  makeTenant,
  registerAndLogin,
  setupDatabase,
  type LoggedInUser,
  type TestContext,
  type TestTenant,
} from '../helper.js'

const RUNS = 60
const REQUESTS_PER_RUN = 100 // 6,000 requests
const ENV = { LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '1000000', LOGIN_MAX_FAILURES_PER_EMAIL: '1000000' }

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(50),
  "'; drop table posts; --",
  "' or '1'='1",
  '" OR 1=1 --',
  '\\',
  '\\u0000',
  '$1',
  '%s%n%x',
  '${jndi:ldap://x/a}',
  '{"title":"x"}',
  '[]',
  'null',
  '<script>alert(1)</script>',
  '\uD800',
  'a\uDFFFb',
  '\uFEFF',
  '\u202Eevil',
  '💩'.repeat(201),
  'é'.repeat(200),
  'ｆｕｌｌ　ｗｉｄｔｈ',
  'Z̵̡̛a̷l̸g̶o̵',
  '\r\n\r\n',
  'NaN',
  '1e309',
  '-0',
  'x'.repeat(201),
  'x'.repeat(10_001),
  'x'.repeat(200_000),
  'a@b.c',
  'UPPER@EXAMPLE.COM',
  'rt_' + 'A'.repeat(43),
  'rt_' + '\u0000'.repeat(43),
  'tb_0123456789ab_' + 'A'.repeat(43),
]

const nastyString = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 2 },
  { arbitrary: fc.string({ maxLength: 300 }), weight: 1 },
)

const nastyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    { arbitrary: nastyString, weight: 6 },
    { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 2 ** 53, 1e308)), weight: 2 },
    { arbitrary: fc.constantFrom(true, false, null), weight: 1 },
    { arbitrary: fc.array(tie('value'), { maxLength: 3 }), weight: 1 },
    { arbitrary: fc.dictionary(fc.constantFrom('title', 'a', '__proto__', '$gt'), tie('value'), { maxKeys: 2 }), weight: 1 },
  ),
})).value

const FIELDS = ['title', 'body', 'email', 'password', 'name', 'refresh_token', 'extra', '__proto__', 'constructor']

/** A JSON body: an object of known and unknown fields, or a raw string that is not one. */
const bodyArb = fc.oneof(
  { arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), nastyValue, { maxKeys: 4 }).map((o) => ({ json: o })), weight: 6 },
  { arbitrary: nastyValue.map((v) => ({ json: v })), weight: 1 },
  {
    arbitrary: fc
      .constantFrom(
        '',
        '{',
        '{"title": "x", "body": ',
        '{"title":"a","title":"b","body":"dup"}',
        '{"email":"a@b.co","email":"c@d.co","password":"12345678","password":"87654321"}',
        '{"__proto__":{"admin":true},"title":"x","body":"y"}',
        '{"constructor":{"prototype":{"admin":true}},"title":"x","body":"y"}',
        '['.repeat(100_000) + ']'.repeat(100_000),
        '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
        '{"title":' + '['.repeat(5000) + ']'.repeat(5000) + ',"body":"y"}',
        '{"title":"\\u0000","body":"\\u0000"}',
        '{"title":"\\ud800","body":"x"}',
        '{"title":"x","body":"y"}\u0000',
        '\uFEFF{"title":"x","body":"y"}',
        '{"title":"x","body":"y"} trailing',
        'null',
        '"string"',
        '12345',
        'NaN',
        '{"title":1e999,"body":-0}',
      )
      .map((raw) => ({ raw })),
    weight: 2,
  },
)

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json, text/plain',
  'application/vnd.api+json',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  ';',
  '',
]

interface Fixture {
  a: TestTenant
  b: TestTenant
  ann: LoggedInUser
  bob: LoggedInUser
  postIds: number[]
}

/** Every UTF-8 byte percent-encoded (encodeURIComponent throws on a lone surrogate). */
function percentEncode(value: string): string {
  return [...Buffer.from(value)].map((byte) => '%' + byte.toString(16).padStart(2, '0')).join('')
}

const ID_PARAMS = [
  '-1',
  '0',
  '1e309',
  '%00',
  '%ZZ',
  '%',
  '1.5',
  '00001',
  '+1',
  ' 1',
  'NaN',
  'Infinity',
  '9'.repeat(30),
  '9007199254740993',
  "1'%20OR%20'1'='1",
  '%F0%9F%92%A9',
  '..',
  '%2e%2e',
  'null',
  'undefined',
  '__proto__',
  'constructor',
]

function requestArb(fixture: Fixture): fc.Arbitrary<DrawnRequest> {
  // Mostly the right key and token, so that the bodies reach validation and the handlers.
  const mostly = <T>(good: T, bad: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(good), weight: 6 }, { arbitrary: bad, weight: 1 })
  const keyArb = mostly<string | string[] | undefined>(
    fixture.a.key,
    fc.constantFrom<(string | string[] | undefined)[]>(
      fixture.b.key,
      undefined,
      '',
      [fixture.a.key, fixture.a.key],
      [fixture.a.key, fixture.b.key],
      fixture.a.key + ' ',
      fixture.a.key.toUpperCase(),
      fixture.a.key.slice(0, -1),
      'x'.repeat(10_000),
      "' or 1=1 --",
      'tb_0123456789ab_' + 'A'.repeat(43),
    ),
  )
  const authArb = mostly<string | string[] | undefined>(
    fixture.ann.headers.authorization!,
    fc.constantFrom<(string | string[] | undefined)[]>(
      fixture.bob.headers.authorization!,
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer x.y.z',
      'Bearer ' + 'a'.repeat(20_000),
      'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
      fixture.ann.accessToken,
      [fixture.ann.headers.authorization!, fixture.bob.headers.authorization!],
      'bearer ' + fixture.ann.accessToken,
      'Bearer  ' + fixture.ann.accessToken,
    ),
  )
  const idArb = fc.oneof(
    fc.constantFrom(...ID_PARAMS),
    fc.constantFrom(...fixture.postIds.map(String)),
    fc.string({ maxLength: 30 }).map(percentEncode),
    fc.integer().map(String),
  )
  const queryValue = fc.oneof(
    fc.constantFrom('1', '100', '101', '0', '-1', '1.5', 'me', 'abc', '', '%00', '1e309', 'cDE%3D', 'cDk5OTk5OTk5OTk5OTk5OTk5OTk%3D'),
    nastyString.map((v) => percentEncode(v.slice(0, 300))),
  )
  const queryArb = fc
    .array(fc.tuple(fc.constantFrom('limit', 'cursor', 'author', 'limit[]', 'author[x]', '__proto__[a]', 'other'), queryValue), {
      maxLength: 4,
    })
    .map((pairs) => (pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${k}=${v}`).join('&')))
  const routeArb = fc.oneof(
    fc
      .constantFrom('/api/users/register/', '/api/users/login/', '/api/users/token/refresh/', '/api/users/logout/', '/api/users/me/')
      .map((url) => ({ url, method: url.endsWith('me/') ? 'GET' : 'POST' })),
    fc.tuple(fc.constantFrom('GET', 'POST'), queryArb).map(([method, q]) => ({ url: `/api/posts/${q}`, method })),
    fc.tuple(fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'), idArb).map(([method, id]) => ({ url: `/api/posts/${id}/`, method })),
    // Anything else: odd methods, the health routes, paths that are not routes.
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE'),
        fc.constantFrom(
          '/healthz',
          '/readyz',
          '/api/users/',
          '/api/posts',
          '/api/posts//',
          '/api/posts/1/2/',
          '/api/users/me',
          '/api/../healthz',
          '/%00',
          '/api/posts/?limit=1&limit=2',
          '/swagger/json',
        ),
      )
      .map(([method, url]) => ({ method, url })),
  )
  const extraHeaders = fc.constantFrom<Record<string, string | string[]>[]>(
    {},
    {},
    { 'x-request-id': 'x'.repeat(5000) },
    { 'x-forwarded-for': '1.2.3.4, ::1, garbage' },
    { accept: 'application/xml' },
    { 'content-encoding': 'gzip' },
    { 'transfer-encoding': 'chunked' },
    { 'x-http-method-override': 'DELETE' },
    { cookie: 'a=b; '.repeat(100) },
  )
  return fc.record({
    route: routeArb,
    key: keyArb,
    auth: authArb,
    contentType: mostly('application/json', fc.constantFrom(...CONTENT_TYPES)),
    body: fc.option(bodyArb, { freq: 4 }),
    extra: extraHeaders,
  })
}

interface DrawnRequest {
  route: { method: string; url: string }
  key: string | string[] | undefined
  auth: string | string[] | undefined
  contentType: string
  body: { json: unknown } | { raw: string } | null
  extra: Record<string, string | string[]>
}

/** A digest of every row that a request could write, in the shared schema and both tenants. */
async function snapshot(ctx: TestContext, fixture: Fixture): Promise<string> {
  const sql = ctx.db.sql
  const parts: string[] = []
  const [shared] = await sql`
    select (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from public.tenants t) as tenants,
      (select md5(coalesce(string_agg(concat_ws('|', id, tenant_id, prefix, name, expires_at, revoked_at), ',' order by id), '')) from public.api_keys) as keys,
      (select md5(coalesce(string_agg(s::text, ',' order by family_id), '')) from public.revoked_sessions s) as ended_logins`
  parts.push(shared!.tenants, shared!.keys, shared!.endedLogins)
  for (const tenant of [fixture.a, fixture.b]) {
    const schema = sql(tenant.schemaName)
    const [row] = await sql`
      select (select md5(coalesce(string_agg(u::text, ',' order by id), '')) from ${schema}.users u) as users,
        (select md5(coalesce(string_agg(p::text, ',' order by id), '')) from ${schema}.posts p) as posts,
        (select md5(coalesce(string_agg(r::text, ',' order by id), '')) from ${schema}.refresh_tokens r) as tokens`
    parts.push(row!.users, row!.posts, row!.tokens)
  }
  return parts.join(':')
}

function checkErrorShape(statusCode: number, body: string): string | undefined {
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(body)
  } catch {
    return `not JSON: ${body.slice(0, 200)}`
  }
  const keys = Object.keys(parsed ?? {})
    .sort()
    .join(',')
  if (keys !== 'code,error,message,statusCode') return `shape ${keys}: ${body.slice(0, 200)}`
  if (parsed.statusCode !== statusCode) return `statusCode ${String(parsed.statusCode)} in a ${statusCode}`
  if (typeof parsed.code !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(parsed.code)) return `code ${String(parsed.code)}`
  if (/\n\s+at /.test(String(parsed.message))) return 'stack trace in message'
  return undefined
}

t.test('every route, fuzzed: no 5xx, one error shape, nothing written by a rejected request', async (t) => {
  const ctx = await setupDatabase(t, ENV)
  const app: FastifyInstance = await buildTestApp(t, ctx, { env: ENV })
  const a = await makeTenant(ctx.services, 'fa')
  const b = await makeTenant(ctx.services, 'fb')
  const ann = await registerAndLogin(app, a, 'ann')
  const bob = await registerAndLogin(app, b, 'bob')
  const postIds: number[] = []
  for (let i = 0; i < 5; i++) {
    postIds.push(
      (await app.inject({ method: 'POST', url: '/api/posts/', headers: ann.headers, payload: { title: `a${i}`, body: 'a' } })).json().id,
    )
    postIds.push(
      (await app.inject({ method: 'POST', url: '/api/posts/', headers: bob.headers, payload: { title: `b${i}`, body: 'b' } })).json().id,
    )
  }
  const fixture: Fixture = { a, b, ann, bob, postIds }
  // The refresh token the fuzz refreshes and logs out with belongs to a login of its own:
  // ending it must not end the login whose access token the Bearer routes are sent with.
  const juggled = await app.inject({
    method: 'POST',
    url: '/api/users/login/',
    headers: { 'api-key': a.key },
    payload: { email: ann.email, password: ann.password },
  })
  let refreshToken = juggled.json().refresh_token as string

  const statuses = new Map<number, number>()
  let sent = 0
  let rejected = 0
  let skippedHeaders = 0
  const failures: string[] = []
  let before = await snapshot(ctx, fixture)

  const send = async (r: DrawnRequest) => {
    const headers: Record<string, string | string[]> = { ...r.extra }
    if (r.key !== undefined) headers['api-key'] = r.key
    if (r.auth !== undefined) headers.authorization = r.auth
    let payload: string | undefined
    if (r.body) {
      // The one live refresh token of the fixture, now and then.
      const json = 'json' in r.body ? r.body.json : undefined
      if (
        json &&
        typeof json === 'object' &&
        !Array.isArray(json) &&
        'refresh_token' in json &&
        (json as { refresh_token: unknown }).refresh_token === 'rt_' + 'A'.repeat(43)
      ) {
        ;(json as { refresh_token: unknown }).refresh_token = refreshToken
      }
      payload = 'raw' in r.body ? r.body.raw : (JSON.stringify(r.body.json) ?? 'undefined')
      if (r.contentType !== '') headers['content-type'] = r.contentType
    }
    // Values no HTTP client can put on the wire (Node refuses them) are sent over a socket below.
    for (const [name, value] of Object.entries(headers)) {
      try {
        validateHeaderName(name)
        for (const v of [value].flat()) validateHeaderValue(name, v)
      } catch {
        skippedHeaders++
        delete headers[name]
      }
    }
    const response = await app.inject({
      method: r.route.method as 'GET',
      url: r.route.url,
      headers,
      ...(payload !== undefined && { payload }),
    })
    sent++
    statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
    const label = `#${sent} ${r.route.method} ${r.route.url.slice(0, 80)} key=${String(r.key).slice(0, 20)} ct=${r.contentType} body=${(payload ?? '').slice(0, 80)}`
    if (response.statusCode >= 500) failures.push(`${label}: ${response.statusCode} ${response.body.slice(0, 300)}`)
    if (response.statusCode >= 400 && r.route.method !== 'HEAD') {
      const problem = checkErrorShape(response.statusCode, response.body)
      if (problem) failures.push(`${label}: ${problem}`)
    }
    const after = await snapshot(ctx, fixture)
    if (response.statusCode >= 400) {
      rejected++
      if (after !== before) failures.push(`${label}: a rejected request (${response.statusCode}) changed the database`)
    }
    before = after
    // Keep one live refresh token for the fixture.
    if (response.statusCode === 200 && r.route.url.startsWith('/api/users/token/refresh')) {
      const pair = response.json()
      if (typeof pair.refresh_token === 'string' && r.key === a.key) refreshToken = pair.refresh_token
    }
    if (response.statusCode === 204 && r.route.url.startsWith('/api/users/logout')) {
      const login = await app.inject({
        method: 'POST',
        url: '/api/users/login/',
        headers: { 'api-key': a.key },
        payload: { email: ann.email, password: ann.password },
      })
      refreshToken = login.json().refresh_token
      before = await snapshot(ctx, fixture)
    }
  }

  const started = performance.now()
  // FUZZ_SEED=<seed> replays a run.
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
  // The cases the issue names, sent whatever the draws: bad path params, NUL bytes, duplicate
  // keys, deep nesting, a repeated api-key header.
  const good = { key: a.key, auth: ann.headers.authorization!, contentType: 'application/json', extra: {} }
  for (const id of ['-1', '1e309', '%00', '%ZZ', '9'.repeat(30), "1'%20OR%20'1'='1"]) {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      await send({
        ...good,
        route: { method, url: `/api/posts/${id}/` },
        body: method.startsWith('P') ? { json: { title: 'x', body: 'y' } } : null,
      })
    }
  }
  for (const json of [
    { title: 'a\u0000b', body: 'c' },
    { title: 'ok', body: '\u0000' },
    { title: '\uD800', body: '\uDFFF' },
    { email: 'nul\u0000@example.com', password: 'password\u0000' },
    { email: 'a@b.co', password: '\u0000'.repeat(8), name: '\u0000' },
    { refresh_token: 'rt_' + '\u0000'.repeat(43) },
  ]) {
    for (const url of [
      '/api/posts/',
      `/api/posts/${postIds[0]}/`,
      '/api/users/register/',
      '/api/users/login/',
      '/api/users/token/refresh/',
      '/api/users/logout/',
    ]) {
      await send({ ...good, route: { method: url === `/api/posts/${postIds[0]}/` ? 'PATCH' : 'POST', url }, body: { json } })
    }
  }
  for (const raw of [
    '{"title":"a","title":"b","body":"dup"}',
    '['.repeat(100_000) + ']'.repeat(100_000),
    '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
  ]) {
    await send({ ...good, route: { method: 'POST', url: '/api/posts/' }, body: { raw } })
  }
  await send({ ...good, key: [a.key, b.key], route: { method: 'GET', url: '/api/posts/' }, body: null })
  t.same(failures, [], 'the named cases')

  await fc.assert(
    fc.asyncProperty(fc.array(requestArb(fixture), { minLength: REQUESTS_PER_RUN, maxLength: REQUESTS_PER_RUN }), async (requests) => {
      for (const r of requests) await send(r)
      if (failures.length > 0) throw new Error(`${failures.length} failures:\n${failures.slice(0, 8).join('\n')}`)
    }),
    { numRuns: RUNS, seed, endOnFailure: true },
  )
  t.equal(failures.length, 0, 'no 5xx, every error in the one shape, no write by a rejected request')
  t.ok(sent >= 5000, `${sent} requests`)
  t.ok(rejected > sent / 2 && (statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > 0, 'the fuzz reached both rejections and successes')
  t.comment(
    `seed ${seed}: ${sent} requests (${rejected} rejected, ${skippedHeaders} header values no client can send left out) in ${((performance.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
  )

  // The process survived and still serves.
  t.equal((await app.inject({ url: '/api/users/me/', headers: ann.headers })).statusCode, 200, 'a normal request still works')
})

/** Raw bytes over a real socket: what no HTTP client library would send. */
function rawRequest(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
    socket.on('data', (chunk) => (data += String(chunk)))
    socket.on('end', () => resolve(data))
    socket.on('close', () => resolve(data))
    socket.on('error', (error) => (data ? resolve(data) : reject(error)))
    socket.write(bytes)
  })
}

t.test('malformed HTTP over a real socket: a 4xx in the one error shape, never a 5xx', async (t) => {
  const ctx = await setupDatabase(t, ENV)
  const app = await buildTestApp(t, ctx, { env: ENV })
  const a = await makeTenant(ctx.services, 'ra')
  const b = await makeTenant(ctx.services, 'rb')
  const ann = await registerAndLogin(app, a, 'ann')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const before = await ctx.db.sql`select count(*)::int as n from ${ctx.db.sql(a.schemaName)}.posts`

  const post = (headers: string, body = '{"title":"raw","body":"raw"}') =>
    `POST /api/posts/ HTTP/1.1\r\nHost: x\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  const auth = `Authorization: ${ann.headers.authorization}\r\n`
  const cases: [string, string | Buffer][] = [
    ['two api-key headers of one tenant', post(`api-key: ${a.key}\r\napi-key: ${a.key}\r\n${auth}`)],
    ['two api-key headers of two tenants', post(`api-key: ${a.key}\r\napi-key: ${b.key}\r\n${auth}`)],
    ['a NUL byte in the api-key header', Buffer.from(post(`api-key: ${a.key}\u0000\r\n${auth}`), 'latin1')],
    ['a NUL byte in the path', `GET /api/posts/\u0000/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\nConnection: close\r\n\r\n`],
    ['a broken request line', 'GARBAGE\r\n\r\n'],
    ['a header without a colon', post(`api-key ${a.key}\r\n${auth}`)],
    [
      'a Content-Length that is not a number',
      `POST /api/posts/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\n${auth}Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}`,
    ],
    [
      'two different Content-Lengths',
      `POST /api/posts/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 30\r\nConnection: close\r\n\r\n{}`,
    ],
    [
      'Content-Length and Transfer-Encoding together',
      `POST /api/posts/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    ],
    [
      'a bad chunk size',
      `POST /api/posts/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ],
    [
      'a body shorter than its Content-Length, then the connection half-closed',
      `POST /api/posts/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"title":`,
    ],
    [
      'a header of 20 KB',
      `GET /api/posts/ HTTP/1.1\r\nHost: x\r\napi-key: ${a.key}\r\nx-big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
    ],
  ]
  for (const [label, bytes] of cases) {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      let data = ''
      socket.setTimeout(5000, () => socket.destroy())
      socket.on('data', (chunk) => (data += String(chunk)))
      socket.on('close', () => resolve(data))
      socket.on('error', (error) => (data ? resolve(data) : reject(error)))
      socket.write(bytes)
      // The short body's client gives up writing: the server must answer, not hang.
      if (label.startsWith('a body shorter')) socket.end()
    })
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1])
    t.ok(status >= 400 && status < 500, `${label}: a 4xx (${answer.split('\r\n')[0] || 'closed without an answer'})`)
    const body = answer.split('\r\n\r\n').slice(1).join('\r\n\r\n')
    const problem = checkErrorShape(status, body.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, ''))
    t.notOk(problem, `${label}: the one error shape ${problem ?? ''}`)
  }
  void rawRequest
  const after = await ctx.db.sql`select count(*)::int as n from ${ctx.db.sql(a.schemaName)}.posts`
  t.equal(after[0]!.n, before[0]!.n, 'no post was written by any of them')
  assertError(t, await app.inject({ url: '/api/posts/', headers: { 'api-key': 'x' } }), 401)
})

t.test('hostile Host headers, with tenants found by host name: never a 5xx, one error shape, the right tenant or none', async (t) => {
  const HOST_ENV = { ...ENV, TENANT_RESOLUTION: 'api-key,host', TENANT_BASE_DOMAIN: 'fuzz.test' }
  const ctx = await setupDatabase(t, HOST_ENV)
  const app = await buildTestApp(t, ctx, { env: HOST_ENV })
  const a = await makeTenant(ctx.services, 'ha')
  const b = await makeTenant(ctx.services, 'hb')
  await ctx.services.domains.addDomain(a.schemaName, 'shop.fuzz-a.test')
  await ctx.services.domains.addDomain(b.schemaName, 'bücher.example')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const login = JSON.stringify({ email: 'nobody@example.com', password: 'password1' })

  /** A login with the given header lines (Host among them, or not), sent as raw bytes. */
  const send = async (headerLines: string, key?: string) => {
    const text =
      `POST /api/users/login/ HTTP/1.1\r\n${headerLines}${key ? `api-key: ${key}\r\n` : ''}Content-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(login)}\r\nConnection: close\r\n\r\n${login}`
    const answer = await rawRequest(port, Buffer.from(text, 'utf8'))
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1])
    const body = answer.split('\r\n\r\n').slice(1).join('\r\n\r\n')
    return { status, body, code: status >= 400 ? ((JSON.parse(body || '{}') as { code?: string }).code ?? '') : '' }
  }
  const hostile: [string, string][] = [
    ['a host of 10 KB', `Host: ${'a'.repeat(10_000)}.fuzz.test\r\n`],
    ['a host of 100 KB', `Host: ${'a.'.repeat(50_000)}fuzz.test\r\n`],
    ['a label of 64 characters', `Host: ${'a'.repeat(64)}.fuzz.test\r\n`],
    ['an IDN host in UTF-8', 'Host: bücher.example\r\n'],
    ['an IDN host in upper case', 'Host: BÜCHER.EXAMPLE\r\n'],
    ['its punycode', 'Host: xn--bcher-kva.example\r\n'],
    ['its punycode in upper case', 'Host: XN--BCHER-KVA.EXAMPLE\r\n'],
    ['a port', `Host: ${a.schemaName}.fuzz.test:8443\r\n`],
    ['port 0', 'Host: shop.fuzz-a.test:0\r\n'],
    ['a port out of range', 'Host: shop.fuzz-a.test:99999\r\n'],
    ['a port that is no number', 'Host: shop.fuzz-a.test:http\r\n'],
    ['a negative port', 'Host: shop.fuzz-a.test:-1\r\n'],
    ['an IPv4 literal', 'Host: 127.0.0.1\r\n'],
    ['an IPv4 literal with a port', 'Host: 127.0.0.1:8000\r\n'],
    ['a hex IPv4', 'Host: 0x7f.1\r\n'],
    ['an IPv6 literal', 'Host: [::1]\r\n'],
    ['an IPv6 literal with a port', 'Host: [::1]:8000\r\n'],
    ['an unclosed IPv6 literal', 'Host: [::1\r\n'],
    ['a bare IPv6', 'Host: ::1\r\n'],
    ['a trailing dot', 'Host: shop.fuzz-a.test.\r\n'],
    ['two trailing dots', 'Host: shop.fuzz-a.test..\r\n'],
    ['a lone dot', 'Host: .\r\n'],
    ['mixed case', 'Host: ShOp.FuZz-A.TeSt\r\n'],
    ['an empty Host', 'Host: \r\n'],
    ['no Host at all', ''],
    ['two Host headers of one tenant', 'Host: shop.fuzz-a.test\r\nHost: shop.fuzz-a.test\r\n'],
    ['two Host headers of two tenants', 'Host: shop.fuzz-a.test\r\nHost: xn--bcher-kva.example\r\n'],
    ['a Host with a path', 'Host: shop.fuzz-a.test/../x\r\n'],
    ['a Host with user info', 'Host: evil@shop.fuzz-a.test\r\n'],
    ['a Host with spaces', 'Host: shop fuzz-a test\r\n'],
    ['SQL in the Host', "Host: x'; drop table tenants; --.test\r\n"],
    ['a wildcard', 'Host: *.fuzz.test\r\n'],
    ['the base domain itself', 'Host: fuzz.test\r\n'],
    ['X-Forwarded-Host without trust', `Host: nobody.example\r\nX-Forwarded-Host: shop.fuzz-a.test\r\n`],
    [
      'two X-Forwarded-Host headers without trust',
      `Host: nobody.example\r\nX-Forwarded-Host: a.example\r\nX-Forwarded-Host: shop.fuzz-a.test\r\n`,
    ],
  ]
  const seen = new Map<string, string>()
  for (const [label, lines] of hostile) {
    for (const key of [undefined, a.key]) {
      const answer = await send(lines, key)
      const where = `${label}${key ? ' (with a key)' : ''}`
      t.ok(answer.status >= 400 && answer.status < 500, `${where}: a 4xx (${answer.status} ${answer.code})`)
      // NOTE: an HTTP/1.1 request without Host is refused by Node's parser itself (a bare 400, as
      // RFC 9112 requires), before the app sees it.
      if (lines !== '') {
        const problem = checkErrorShape(answer.status, answer.body)
        t.notOk(problem, `${where}: the one error shape ${problem ?? ''}`)
      }
      if (!key) seen.set(label, answer.code)
    }
  }
  // A login with no such user is 401 INVALID_CREDENTIALS once a tenant is found: which hosts found one.
  // Raw UTF-8 is no valid Host (clients send the punycode; Node reads header bytes as latin1).
  t.equal(seen.get('an IDN host in UTF-8'), 'TENANT_NOT_FOUND', 'raw UTF-8 names no tenant')
  t.equal(seen.get('its punycode'), 'INVALID_CREDENTIALS', 'an IDN domain is found by its punycode')
  t.equal(seen.get('its punycode in upper case'), 'INVALID_CREDENTIALS')
  t.equal(seen.get('a port'), 'INVALID_CREDENTIALS', 'a port is dropped (a subdomain of the base domain)')
  t.equal(seen.get('a trailing dot'), 'INVALID_CREDENTIALS', 'a trailing dot is dropped')
  t.equal(seen.get('mixed case'), 'INVALID_CREDENTIALS', 'case does not matter')
  for (const label of [
    'an IPv4 literal',
    'an IPv6 literal',
    'a hex IPv4',
    'the base domain itself',
    'X-Forwarded-Host without trust',
    'a wildcard',
  ]) {
    t.equal(seen.get(label), 'TENANT_NOT_FOUND', `${label}: names no tenant`)
  }

  // And random ones: printable ASCII and a little unicode, as a Host header can carry them.
  const hostChars = fc.constantFrom(..."abcxyz019-_.:[]@%/\\?#*~!$&'()+,;=AZ".split(''), 'ü', 'é', '💩', '\u0130', '\u200b')
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: hostChars, maxLength: 80 }), fc.boolean(), async (host, withKey) => {
      const answer = await send(`Host: ${host}\r\n`, withKey ? a.key : undefined)
      return answer.status >= 400 && answer.status < 500 && checkErrorShape(answer.status, answer.body) === undefined
    }),
    { numRuns: 150 },
  )
  t.pass('150 random Host headers: each a 4xx in the one error shape')
  t.equal((await send(`Host: shop.fuzz-a.test\r\n`)).code, 'INVALID_CREDENTIALS', 'the app still serves')
})
