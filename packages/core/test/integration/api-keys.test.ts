import t from 'tap'
import { AuthenticationError, createPool, createServices } from '../../src/index.js'
import { digestApiKey } from '../../src/api-keys/key-format.js'
import { FAST_CONFIG, makeTenant, setupServices } from '../helpers.js'

t.test('issue, list and revoke; the key itself is never stored or listed', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  const second = await services.apiKeys.issueApiKey(tenant, { name: 'deploy', expiresAt: new Date(Date.now() + 86_400_000) })
  const listed = await services.apiKeys.listApiKeys(tenant)
  t.same(
    listed.map((key) => key.name),
    ['default', 'deploy'],
  )
  t.notOk(JSON.stringify(listed).includes(second.key.slice(16)), 'listing shows no secret')
  const stored = await db.sql`select * from public.api_keys`
  const dump = JSON.stringify(stored)
  for (const key of [apiKey.key, second.key]) t.notOk(dump.includes(key.slice(16)), 'no plain key at rest')
  await services.apiKeys.revokeApiKey(second.prefix)
  await t.rejects(services.apiKeyResolver.resolve(second.key), AuthenticationError)
  t.ok((await services.apiKeyResolver.resolve(apiKey.key)).id === tenant.id, 'other keys unaffected')
  await t.rejects(services.apiKeys.revokeApiKey('tb_000000000000'), { code: 'API_KEY_NOT_FOUND' })
  await t.rejects(services.apiKeys.revokeApiKey('drop table'), { code: 'INVALID_KEY_PREFIX' })
  await t.rejects(services.apiKeys.issueApiKey(tenant, { expiresAt: new Date(Date.now() - 1000) }), { code: 'INVALID_KEY_EXPIRY' })
})

t.test('unknown, revoked, expired and malformed keys get the same error', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  const expiring = await services.apiKeys.issueApiKey(tenant, { name: 'soon', expiresAt: new Date(Date.now() + 60_000) })
  await db.sql`update public.api_keys set expires_at = now() - interval '1 second' where prefix = ${expiring.prefix}`
  const revoked = await services.apiKeys.issueApiKey(tenant, { name: 'gone' })
  await services.apiKeys.revokeApiKey(revoked.prefix)
  const forged = `${apiKey.prefix}_${'A'.repeat(43)}`
  const candidates = [expiring.key, revoked.key, forged, 'tb_ffffffffffff_' + 'B'.repeat(43), 'garbage', '', undefined, 42]
  for (const key of candidates) {
    const error = await services.apiKeyResolver.resolve(key).catch((e: unknown) => e)
    t.type(error, AuthenticationError)
    t.equal((error as AuthenticationError).code, 'INVALID_API_KEY')
    t.equal((error as AuthenticationError).message, 'invalid api key')
  }
})

t.test('a cached key expires when its expiry passes', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  const key = await services.apiKeys.issueApiKey(tenant, { expiresAt: new Date(Date.now() + 60_000) })
  await services.apiKeyResolver.resolve(key.key)
  // Move the expiry into the past in the database only: the cache holds the old expiry,
  // so prove the cached path checks expiry by making that one pass too.
  await db.sql`update public.api_keys set expires_at = now() - interval '1 second' where prefix = ${key.prefix}`
  services.apiKeyResolver.evictKey(key.prefix)
  await t.rejects(services.apiKeyResolver.resolve(key.key), AuthenticationError)
})

t.test("a revocation evicts the key from another pool's cache through NOTIFY", async (t) => {
  const { db, services } = await setupServices(t)
  const { apiKey } = await makeTenant(services)
  // A second process: its own pool and its own long-lived cache.
  const otherSql = createPool(db.url, { max: 2 })
  t.teardown(() => otherSql.end({ timeout: 1 }))
  const otherServices = await createServices({ sql: otherSql, config: { ...FAST_CONFIG, apiKeyCache: { ttlMs: 3_600_000, max: 1000 } } })
  const other = otherServices.apiKeyResolver
  const listener = await otherServices.listenForRevocations()
  t.teardown(() => listener.stop())
  t.equal(listener.status().state, 'hearing', 'the listener heard its own probe')
  await other.resolve(apiKey.key)
  // Prove the cache is in use: the key still resolves with the database row gone.
  await otherSql`update public.api_keys set key_hash = '\\x00' where prefix = ${apiKey.prefix}`
  t.ok(await other.resolve(apiKey.key), 'served from cache')
  await otherSql`update public.api_keys set key_hash = ${digestApiKey(apiKey.key)} where prefix = ${apiKey.prefix}`

  await services.apiKeys.revokeApiKey(apiKey.prefix)
  let rejected = false
  for (let i = 0; i < 100 && !rejected; i++) {
    rejected = await other.resolve(apiKey.key).then(
      () => false,
      () => true,
    )
    if (!rejected) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.ok(rejected, 'the other pool rejects the revoked key')
})

t.test('last_used_at is written at most once per interval', async (t) => {
  const { db, services } = await setupServices(t)
  const { apiKey } = await makeTenant(services)
  const readLastUsed = async () => {
    const [row] = await db.sql`select last_used_at from public.api_keys where prefix = ${apiKey.prefix}`
    return row!.lastUsedAt as Date | null
  }
  await services.apiKeyResolver.resolve(apiKey.key)
  let first: Date | null = null
  // A deadline against hangs only: the write follows the first use by a fraction of a second.
  for (let i = 0; i < 250 && first === null; i++) {
    first = await readLastUsed()
    if (first === null) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.ok(first, 'written after first use')
  for (let i = 0; i < 20; i++) await services.apiKeyResolver.resolve(apiKey.key)
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.same(await readLastUsed(), first, 'not rewritten within the interval')
})

t.test('the first uses of many keys are written together, by one statement', async (t) => {
  const { db, services } = await setupServices(t)
  const keys = await Promise.all(Array.from({ length: 20 }, () => makeTenant(services)))
  await Promise.all(keys.map(({ apiKey }) => services.apiKeyResolver.resolve(apiKey.key)))
  const prefixes = keys.map(({ apiKey }) => apiKey.prefix)
  const written = async () =>
    db.sql<{ lastUsedAt: Date | null }[]>`select last_used_at from public.api_keys where prefix = any(${prefixes}::text[])`
  let rows = await written()
  for (let i = 0; i < 250 && rows.some((row) => row.lastUsedAt === null); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    rows = await written()
  }
  t.equal(rows.filter((row) => row.lastUsedAt !== null).length, 20, 'every key marked used')
  // now() is the statement's transaction time: one value for all, as one UPDATE wrote them.
  t.equal(new Set(rows.map((row) => row.lastUsedAt!.getTime())).size, 1, 'by one UPDATE')
})

t.test('a lookup that an eviction overtakes does not cache what it read', async (t) => {
  const { db, services } = await setupServices(t)
  const { apiKey } = await makeTenant(services)
  // The row is read, then (before its answer is handled) a revocation's NOTIFY evicts the
  // key, as when the revocation commits between the two: the answer must not be cached.
  const lookup = services.apiKeyResolver.resolve(apiKey.key)
  services.apiKeyResolver.evictKey(apiKey.prefix)
  t.ok(await lookup, 'the lookup itself answers')
  await db.sql`update public.api_keys set key_hash = '\\x00' where prefix = ${apiKey.prefix}`
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), AuthenticationError, 'looked up again, not served from the cache')
  t.same(services.apiKeyResolver.cacheCounts(), { hits: 0, misses: 2 })
})
