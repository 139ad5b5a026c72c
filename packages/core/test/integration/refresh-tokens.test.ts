import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { AuthenticationError, ConfigError, loadOrCreateJwtSecret } from '../../src/index.js'
import { digestRefreshToken } from '../../src/sessions/refresh-token-service.js'
import { makeTenant, setupServices } from '../helpers.js'

async function setup(t: Test) {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'rt@example.com', password: 'password1' })
  return { db, services, tenant, user }
}

t.test('a token is stored only as its SHA-256 digest and rotates once', async (t) => {
  const { db, services, tenant, user } = await setup(t)
  const first = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  t.match(first.token, /^rt_[A-Za-z0-9_-]{43}$/)
  t.ok(first.expiresAt.getTime() > Date.now() + 29 * 86_400_000, 'default lifetime of 30 days')
  const rows = await db.sql`select token_hash, user_id from ${db.sql(tenant.schemaName)}.refresh_tokens`
  t.equal(rows.length, 1)
  t.same(rows[0]!.tokenHash, digestRefreshToken(first.token), 'digest stored')
  t.notOk(JSON.stringify(rows).includes(first.token.slice(3)), 'token itself not stored')

  const second = await services.refreshTokens.rotateRefreshToken(tenant, first.token)
  t.not(second.token, first.token)
  t.equal(second.familyId, first.familyId, 'same family')
  t.equal(second.userId, user.id)
  const third = await services.refreshTokens.rotateRefreshToken(tenant, second.token)
  t.equal(third.familyId, first.familyId)
})

t.test('reusing a rotated token revokes the whole family, other families live on', async (t) => {
  const { services, tenant, user } = await setup(t)
  const first = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  const other = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  const second = await services.refreshTokens.rotateRefreshToken(tenant, first.token)
  await t.rejects(services.refreshTokens.rotateRefreshToken(tenant, first.token), { code: 'INVALID_REFRESH_TOKEN' }, 'reuse refused')
  await t.rejects(
    services.refreshTokens.rotateRefreshToken(tenant, second.token),
    AuthenticationError,
    'the live token of the family is revoked too',
  )
  t.ok(await services.refreshTokens.rotateRefreshToken(tenant, other.token), 'another login is untouched')
})

t.test('logout revokes the family; unknown, malformed and foreign tokens are refused', async (t) => {
  const { services, tenant, user } = await setup(t)
  const other = (await makeTenant(services, 'o')).tenant
  const first = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  await t.rejects(services.refreshTokens.rotateRefreshToken(other, first.token), AuthenticationError, 'another tenant does not know it')
  await t.rejects(services.refreshTokens.revokeRefreshToken(other, first.token), AuthenticationError)
  for (const bad of [undefined, 42, '', 'rt_short', `rt_${'A'.repeat(43)}`, `xx_${'A'.repeat(43)}`]) {
    await t.rejects(services.refreshTokens.rotateRefreshToken(tenant, bad), AuthenticationError, String(bad))
    await t.rejects(services.refreshTokens.revokeRefreshToken(tenant, bad), AuthenticationError, String(bad))
  }
  const second = await services.refreshTokens.rotateRefreshToken(tenant, first.token)
  await t.rejects(services.refreshTokens.revokeRefreshToken(tenant, first.token), AuthenticationError, 'a rotated token cannot log out')
  await services.refreshTokens.revokeRefreshToken(tenant, second.token)
  await t.rejects(services.refreshTokens.rotateRefreshToken(tenant, second.token), AuthenticationError, 'revoked')
  await t.rejects(services.refreshTokens.revokeRefreshToken(tenant, second.token), AuthenticationError, 'logout twice')
})

t.test('an expired token is refused', async (t) => {
  const { db, services, tenant, user } = await setup(t)
  const issued = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  await db.sql`update ${db.sql(tenant.schemaName)}.refresh_tokens set expires_at = now() - interval '1 second'`
  await t.rejects(services.refreshTokens.rotateRefreshToken(tenant, issued.token), AuthenticationError)
})

t.test('concurrent refreshes of one token: exactly one wins', async (t) => {
  const { services, tenant, user } = await setup(t)
  const issued = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => services.refreshTokens.rotateRefreshToken(tenant, issued.token)))
  t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1)
})

t.test('the development JWT secret is generated once, kept 0600, and JWT_SECRET wins', async (t) => {
  const folder = await mkdtemp(path.join(tmpdir(), 'tb-secret-'))
  t.teardown(() => rm(folder, { recursive: true, force: true }))
  const dataDir = path.join(folder, 'data')
  const config = { dataDir, auth: { jwtSecret: undefined } }
  const [a, b] = await Promise.all([loadOrCreateJwtSecret(config), loadOrCreateJwtSecret(config)])
  t.equal(a, b, 'two racing starts agree')
  t.ok(Buffer.byteLength(a) >= 32)
  t.equal(await loadOrCreateJwtSecret(config), a, 'kept between runs')
  const file = path.join(dataDir, 'jwt-secret')
  t.equal((await stat(file)).mode & 0o777, 0o600)
  t.equal((await readFile(file, 'utf8')).trim(), a)
  const given = 'g'.repeat(40)
  t.equal(await loadOrCreateJwtSecret({ dataDir, auth: { jwtSecret: given } }), given)
  await writeFile(file, 'short\n')
  await t.rejects(loadOrCreateJwtSecret(config), ConfigError)
})
