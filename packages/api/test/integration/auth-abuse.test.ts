/**
 * Authentication abuse, beside what other files already prove:
 * - the login limit trips with 429 and Retry-After: rate-limit.test.ts;
 * - `alg: none`, HS384/HS512 with the right secret, a wrong secret, an expired token, a
 *   forged `tid` of another tenant: access-tokens.test.ts;
 * - another tenant's real token and refresh token on every route: cross-tenant.test.ts.
 * Here: tokens that announce asymmetric algorithms (RS256, ES256, PS256, EdDSA), the
 * RS256-to-HS256 key-confusion shape, a header that tries to name its own key, and a
 * deleted tenant's keys and tokens, refused on the very next request.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import t from 'tap'
import {
  assertError,
  b64,
  buildTestApp,
  forgeJwt,
  JWT_SECRET,
  makeTenant,
  registerAndLogin,
  setupDatabase,
  tokenTestSetup,
} from '../helper.js'

t.test('tokens announcing a foreign (asymmetric) algorithm are 401', async (t) => {
  const { tenant, user, now, me } = await tokenTestSetup(t)
  const claims = { sub: String(user.id), tid: tenant.id, sid: user.sessionId, iat: now, exp: now + 600 }

  // Positive control: the same forge with HS256 and the secret is accepted, so each 401
  // below is the algorithm's doing, not a malformed token.
  t.equal((await me(forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims))).statusCode, 200, 'control: HS256 forge accepted')

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ed = generateKeyPairSync('ed25519')
  const asym = (alg: string, sig: (data: Buffer) => Buffer) => {
    const unsigned = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`
    return `${unsigned}.${sig(Buffer.from(unsigned)).toString('base64url')}`
  }
  const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' })
  const cases: [string, string][] = [
    ['RS256 signed with an attacker key', asym('RS256', (d) => sign('sha256', d, rsa.privateKey))],
    [
      'PS256 signed with an attacker key',
      asym('PS256', (d) => sign('sha256', d, { key: rsa.privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */ })),
    ],
    ['ES256 signed with an attacker key', asym('ES256', (d) => sign('sha256', d, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }))],
    ['EdDSA signed with an attacker key', asym('EdDSA', (d) => sign(null, d, ed.privateKey))],
    // Key confusion: RS256 announced, HMAC-signed with a public key as the secret.
    ['RS256 announced, HMAC with a public PEM', forgeJwt({ alg: 'RS256', typ: 'JWT' }, claims, rsaPublicPem)],
    ['RS256 announced, HMAC with the real secret', forgeJwt({ alg: 'RS256', typ: 'JWT' }, claims)],
    [
      'HS256 with an embedded jwk',
      forgeJwt({ alg: 'HS256', typ: 'JWT', jwk: { kty: 'oct', k: Buffer.from('attacker').toString('base64url') } }, claims, 'attacker'),
    ],
    ['HS256 with a kid naming another secret', forgeJwt({ alg: 'HS256', typ: 'JWT', kid: '../../../dev/null' }, claims, '')],
    ['NONE in capitals', `${b64({ alg: 'NONE', typ: 'JWT' })}.${b64(claims)}.`],
    ['an empty signature', `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.`],
  ]
  for (const [label, token] of cases) {
    const response = await me(token)
    t.equal(response.statusCode, 401, label)
    assertError(t, response, 401, 'INVALID_ACCESS_TOKEN')
  }
})

t.test("a deleted tenant's keys and tokens are refused on the next request", async (t) => {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx)
  // As server.ts does: this process's key cache hears revocations.
  const revocations = await ctx.services.listenForRevocations()
  t.teardown(() => revocations.stop())
  const doomed = await makeTenant(ctx.services, 'doomed')
  const survivor = await makeTenant(ctx.services, 'survivor')
  const second = await ctx.services.apiKeys.issueApiKey(doomed, { name: 'second' })
  const user = await registerAndLogin(app, doomed, 'ann')
  const other = await registerAndLogin(app, survivor, 'bob')
  const post = (
    await app.inject({ method: 'POST', url: '/api/posts/', headers: user.headers, payload: { title: 'doomed', body: 'x' } })
  ).json()

  // Every key is used (and so cached) right before the deletion.
  for (const key of [doomed.key, second.key]) {
    const headers = { 'api-key': key, authorization: user.headers.authorization! }
    t.equal((await app.inject({ url: `/api/posts/${post.id}/`, headers })).statusCode, 200, 'works before')
  }

  await ctx.services.tenants.deleteTenant(doomed.schemaName, { force: true })

  // No wait: the very next request after deleteTenant returns.
  const requests = [
    ['GET', '/api/users/me/'],
    ['GET', '/api/posts/'],
    ['GET', `/api/posts/${post.id}/`],
    ['POST', '/api/posts/'],
    ['DELETE', `/api/posts/${post.id}/`],
    ['POST', '/api/users/login/'],
    ['POST', '/api/users/token/refresh/'],
    ['POST', '/api/users/register/'],
  ] as const
  for (const key of [doomed.key, second.key]) {
    for (const [method, url] of requests) {
      const payload = { title: 'x', body: 'y', email: user.email, password: user.password, refresh_token: user.refreshToken }
      const response = await app.inject({
        method,
        url,
        headers: { 'api-key': key, authorization: user.headers.authorization! },
        ...(method === 'POST' && { payload }),
      })
      assertError(t, response, 401, 'INVALID_API_KEY')
    }
  }
  // The deleted tenant's token with a living tenant's key is still another tenant's token.
  const foreign = await app.inject({
    url: '/api/users/me/',
    headers: { 'api-key': survivor.key, authorization: user.headers.authorization! },
  })
  assertError(t, foreign, 401, 'TOKEN_TENANT_MISMATCH')
  t.equal((await app.inject({ url: '/api/users/me/', headers: other.headers })).statusCode, 200, 'the other tenant is untouched')
})
