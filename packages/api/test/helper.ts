import { createHmac, randomBytes } from 'node:crypto'
import type { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { createServices, loadConfig, type Config, type Services, type TenantbaseModule } from '@tenantbase/core'
import { createTestDatabase, testDeployment, type TestDatabase } from '@tenantbase/core/testing'
import { buildApp } from '../src/app.js'
import { loggerOptions } from '../src/logger.js'

export const JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long'

/** One database per test file, migrated, with core's services on it. */
export interface TestContext {
  readonly db: TestDatabase
  readonly services: Services
  readonly config: Config
  /** The deployment's modules, whose routes the test app serves. */
  readonly modules?: readonly TenantbaseModule[]
}

/** A real configuration, as the server would load it, for the test database. */
export function testConfig(url: string, env: Record<string, string> = {}): Config {
  return loadConfig({ DATABASE_URL: url, JWT_SECRET, BCRYPT_COST: '10', LOG_LEVEL: 'silent', ...env })
}

/** A fresh database (dropped at the end of `t`) with the shared schema migrated, and the deployment's services and modules. */
export async function setupDatabase(t: Test, env: Record<string, string> = {}): Promise<TestContext> {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const config = testConfig(db.url, env)
  const deployment = await testDeployment()
  const services = await createServices({ sql: db.sql, tenantConnections: db.tenantConnections, config, migrations: deployment.migrations })
  await services.migrateAll()
  return { db, services, config, modules: deployment.modules }
}

/** The whole app on `ctx`, closed when `t` ends. */
export async function buildTestApp(
  t: Test,
  ctx: TestContext,
  options: { env?: Record<string, string>; logStream?: Writable; jwtSecret?: string; now?: () => number } = {},
): Promise<FastifyInstance> {
  const config = options.env ? testConfig(ctx.db.url, options.env) : ctx.config
  const app = await buildApp({
    services: ctx.services,
    config,
    jwtSecret: options.jwtSecret ?? JWT_SECRET,
    modules: ctx.modules,
    logger: options.logStream ? loggerOptions({ level: 'debug', stream: options.logStream }) : false,
    ...(options.now && { now: options.now }),
  })
  t.teardown(() => app.close())
  return app
}

export interface TestTenant {
  readonly id: number
  readonly schemaName: string
  readonly key: string
}

/** A tenant with a random schema name and its first api key. */
export async function makeTenant(services: Services, label = 't'): Promise<TestTenant> {
  const schemaName = `${label}_${randomBytes(5).toString('hex')}`
  const { tenant, apiKey } = await services.tenants.createTenant({ name: `Tenant ${schemaName}`, schemaName })
  return { id: tenant.id, schemaName, key: apiKey.key }
}

export interface LoggedInUser {
  readonly id: number
  readonly email: string
  readonly password: string
  readonly accessToken: string
  readonly refreshToken: string
  /** The login the tokens belong to (the access token's `sid`). */
  readonly sessionId: string
  /** Headers for a user route: the tenant's api key and the Bearer token. */
  readonly headers: Record<string, string>
}

/** Registers and logs in a user through the API, asserting both succeed. */
export async function registerAndLogin(app: FastifyInstance, tenant: TestTenant, name = 'user'): Promise<LoggedInUser> {
  const email = `${name}-${randomBytes(3).toString('hex')}@example.com`
  const password = `pw-${randomBytes(8).toString('hex')}`
  const registered = await app.inject({
    method: 'POST',
    url: '/api/users/register/',
    headers: { 'api-key': tenant.key },
    payload: { email, password, name },
  })
  if (registered.statusCode !== 201) throw new Error(`register failed: ${registered.statusCode} ${registered.body}`)
  const login = await app.inject({
    method: 'POST',
    url: '/api/users/login/',
    headers: { 'api-key': tenant.key },
    payload: { email, password },
  })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
  const tokens = login.json()
  return {
    id: registered.json().id,
    email,
    password,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    sessionId: JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString()).sid,
    headers: { 'api-key': tenant.key, authorization: `Bearer ${tokens.access_token}` },
  }
}

/**
 * For token tests: an app on a fresh database, a logged-in user of one tenant, `now` in JWT
 * seconds, and `me(token)`, a GET /api/users/me/ with the tenant's key and that Bearer token.
 */
export async function tokenTestSetup(t: Test, options: { now?: () => number } = {}) {
  const ctx = await setupDatabase(t)
  const app = await buildTestApp(t, ctx, options)
  const tenant = await makeTenant(ctx.services)
  const user = await registerAndLogin(app, tenant)
  const now = Math.floor((options.now ?? Date.now)() / 1000)
  const me = (token: string) => app.inject({ url: '/api/users/me/', headers: { 'api-key': tenant.key, authorization: `Bearer ${token}` } })
  return { app, tenant, user, now, me }
}

/** Asserts the one error shape and the status and code. */
export function assertError(
  t: Test,
  response: LightMyRequestResponse | { statusCode: number; json(): unknown },
  status: number,
  code?: string,
): void {
  t.equal(response.statusCode, status, `status ${status}`)
  const body = response.json() as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'error shape')
  t.equal(body.statusCode, status)
  if (code !== undefined) t.equal(body.code, code)
  t.notMatch(String(body.message), /\n\s+at /, 'no stack trace')
}

/** base64url of a JSON value, as in a JWT's header and payload. */
export function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/**
 * A JWT signed by hand: HMAC with `hash` over `header.claims` (whatever `alg` the header
 * announces), or no signature at all when `hash` is null.
 */
export function forgeJwt(header: object, claims: object, secret: string | Buffer = JWT_SECRET, hash: string | null = 'sha256'): string {
  const unsigned = `${b64(header)}.${b64(claims)}`
  if (hash === null) return `${unsigned}.`
  return `${unsigned}.${createHmac(hash, secret).update(unsigned).digest('base64url')}`
}
