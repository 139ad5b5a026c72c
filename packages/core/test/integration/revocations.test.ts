import t, { type Test } from 'tap'
import { digestApiKey } from '../../src/api-keys/key-format.js'
import { AuthenticationError, createPool, createServices } from '../../src/index.js'
import type { ListenerStatus } from '../../src/revocations/revocation-listener.js'
import { createTestDatabase } from '../../src/testing.js'
import { FAST_CONFIG, makeTenant, setupServices } from '../helpers.js'

/** A hang guard only: the figures printed are what the test measures. */
const DEADLINE_MS = 10_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Ms until `check` holds, or undefined past the deadline. */
async function msUntil(check: () => boolean | Promise<boolean>): Promise<number | undefined> {
  const started = Date.now()
  while (Date.now() - started < DEADLINE_MS) {
    if (await check()) return Date.now() - started
    await sleep(5)
  }
  return undefined
}

/** Another process's services: a pool of its own on the same database. */
async function otherProcess(t: Test, url: string) {
  const sql = createPool(url, { max: 2 })
  t.teardown(() => sql.end({ timeout: 1 }))
  return createServices({ sql, config: { ...FAST_CONFIG, apiKeyCache: { ttlMs: 3_600_000, max: 1000 } } })
}

t.test('an ended login reaches every listening process, and one that starts later', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'ended@example.com', password: 'password1' })
  const other = await otherProcess(t, db.url)
  const listener = await other.listenForRevocations()
  t.teardown(() => listener.stop())
  t.equal(listener.status().state, 'hearing')

  const loggedOut = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  const untouched = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  await services.refreshTokens.revokeRefreshToken(tenant, loggedOut.token)
  t.ok(services.revokedSessions.isRevoked(loggedOut.familyId), 'this process knows at once')
  const heardMs = await msUntil(() => other.revokedSessions.isRevoked(loggedOut.familyId))
  t.ok(heardMs !== undefined, `the other process heard the logout (${heardMs} ms)`)
  t.comment(`logout heard by the other process after ${heardMs} ms`)

  const reused = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  await services.refreshTokens.rotateRefreshToken(tenant, reused.token)
  await t.rejects(services.refreshTokens.rotateRefreshToken(tenant, reused.token), AuthenticationError, 'reuse is refused')
  t.ok(services.revokedSessions.isRevoked(reused.familyId), 'and ends the login here at once')
  const reuseMs = await msUntil(() => other.revokedSessions.isRevoked(reused.familyId))
  t.ok(reuseMs !== undefined, `the other process heard the reuse (${reuseMs} ms)`)
  t.comment(`refresh-token reuse heard by the other process after ${reuseMs} ms`)
  t.notOk(other.revokedSessions.isRevoked(untouched.familyId), 'another login of the same user is untouched')
  t.equal(listener.heard().session, 2, 'two ended logins heard')

  const late = await otherProcess(t, db.url)
  t.notOk(late.revokedSessions.isRevoked(loggedOut.familyId), 'before listening, a new process knows nothing')
  const lateListener = await late.listenForRevocations()
  t.teardown(() => lateListener.stop())
  t.ok(
    late.revokedSessions.isRevoked(loggedOut.familyId) && late.revokedSessions.isRevoked(reused.familyId),
    'a process that starts later loads both',
  )

  const [row] = await db.sql<{ seconds: number }[]>`
    select extract(epoch from expires_at - revoked_at)::int as seconds from public.revoked_sessions where family_id = ${loggedOut.familyId}`
  t.equal(row!.seconds, 900 + 60, 'kept for the access token lifetime and a margin')
})

t.test('each revocation prunes expired ended logins', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'prune@example.com', password: 'password1' })
  await db.sql`
    insert into public.revoked_sessions (family_id, tenant_id, revoked_at, expires_at)
    select gen_random_uuid(), ${tenant.id}, now() - interval '2 hours', now() - interval '1 hour' from generate_series(1, 5)`
  const session = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  await services.refreshTokens.revokeRefreshToken(tenant, session.token)
  const rows = await db.sql<{ familyId: string }[]>`select family_id from public.revoked_sessions`
  t.same(
    rows.map((r) => r.familyId),
    [session.familyId],
    'only the living one is left',
  )
})

t.test('a listener that does not hear its own NOTIFY says so and fails closed', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  const user = await services.users.registerUser(tenant, { email: 'deaf@example.com', password: 'password1' })
  // LISTEN on another database of the same server: a NOTIFY sent here never arrives there,
  // as behind a transaction-mode pooler.
  const elsewhere = await createTestDatabase({ poolMax: 1 })
  t.teardown(() => elsewhere.drop())
  const deaf = await otherProcess(t, db.url)
  const changes: ListenerStatus[] = []
  const listener = await deaf.listenForRevocations({
    listenSql: elsewhere.sql,
    onStateChange: (status) => changes.push(status),
    timing: { probeTimeoutMs: 300, deafProbeIntervalMs: 200 },
  })
  t.teardown(() => listener.stop())
  t.equal(listener.status().state, 'deaf')
  t.match(listener.status().problem, /DATABASE_LISTEN_URL/, 'the problem names the fix')
  t.same(
    changes.map((c) => c.state),
    ['starting', 'deaf'],
  )
  t.same(deaf.revocationStatus(), listener.status())

  // The key cache is off: a key whose row changes is looked up again, not served from memory.
  t.ok(await deaf.apiKeyResolver.resolve(apiKey.key))
  await db.sql`update public.api_keys set key_hash = '\\x00' where prefix = ${apiKey.prefix}`
  await t.rejects(deaf.apiKeyResolver.resolve(apiKey.key), AuthenticationError, 'not cached while deaf')
  await db.sql`update public.api_keys set key_hash = ${digestApiKey(apiKey.key)} where prefix = ${apiKey.prefix}`
  t.same(deaf.apiKeyResolver.cacheCounts().hits, 0, 'no cache hit')

  // Ended logins are read from the database instead.
  const session = await services.refreshTokens.issueRefreshToken(tenant, user.id)
  await services.refreshTokens.revokeRefreshToken(tenant, session.token)
  const polledMs = await msUntil(() => deaf.revokedSessions.isRevoked(session.familyId))
  t.ok(polledMs !== undefined, `the deaf process learns of the logout from the database (${polledMs} ms)`)
  t.comment(`logout known to the deaf process after ${polledMs} ms`)
  await sleep(700)
  t.equal(listener.status().state, 'deaf', 'still deaf, still probing')
})

t.test('a listener that hears: the key cache is on', async (t) => {
  const { db, services } = await setupServices(t)
  const { apiKey } = await makeTenant(services)
  const other = await otherProcess(t, db.url)
  const listener = await other.listenForRevocations()
  t.teardown(() => listener.stop())
  await other.apiKeyResolver.resolve(apiKey.key)
  await other.apiKeyResolver.resolve(apiKey.key)
  t.same(other.apiKeyResolver.cacheCounts(), { hits: 1, misses: 1 })
  t.ok(listener.heard().probe >= 1, 'its probe was heard')
})
