import { cp, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { assertKeyScope, createServices, DEFAULT_MIGRATIONS_DIR, ForbiddenError, latestState, type Sql } from '../../src/index.js'
import { FAST_CONFIG, makeTenant, randomSchema, setupServices } from '../helpers.js'

const HOUR = 3_600_000

/** Every row of the registry, the keys and the audit log: equal before and after a refused action. */
async function snapshot(sql: Sql): Promise<string> {
  const tenants = await sql`select * from public.tenants order by id`
  const keys = await sql`select id, prefix, tenant_id, name, scope, expires_at, revoked_at, rotated_to from public.api_keys order by id`
  const audit = await sql`select * from public.audit_events order by id`
  return JSON.stringify({ tenants, keys, audit })
}

t.test('rotation: a new key of the same scope and expiry; the old one ends at min(now + grace, its expiry)', async (t) => {
  const { services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)

  const start = Date.now()
  const { old, issued } = await services.apiKeys.rotateApiKey(apiKey.prefix, { graceMs: HOUR })
  t.equal(old.rotatedTo, issued.prefix)
  t.equal(issued.name, apiKey.name, 'the new key keeps the name by default')
  t.equal(issued.scope, 'write')
  t.equal(issued.expiresAt, null, 'a key without expiry rotates to a key without expiry')
  t.ok(
    old.expiresAt && Math.abs(old.expiresAt.getTime() - (start + HOUR)) < 5000,
    `the old key ends in an hour (${old.expiresAt?.toISOString()})`,
  )
  t.equal(old.revokedAt, null)
  t.equal((await services.apiKeyResolver.resolve(apiKey.key)).id, tenant.id, 'the old key works during the grace')
  t.equal((await services.apiKeyResolver.resolve(issued.key)).id, tenant.id, 'and so does the new one')

  // An expiring read key: a long grace never extends it, and the new key expires with it.
  const expiresAt = new Date(Date.now() + 2 * HOUR)
  const reader = await services.apiKeys.issueApiKey(tenant, { name: 'dashboard', scope: 'read', expiresAt })
  const rotated = await services.apiKeys.rotateApiKey(reader.key, { graceMs: 30 * 24 * HOUR, name: 'dashboard-2' })
  t.equal(rotated.old.expiresAt?.getTime(), expiresAt.getTime(), 'a 30-day grace leaves a 2-hour expiry as it was')
  t.equal(rotated.issued.expiresAt?.getTime(), expiresAt.getTime(), 'the new key expires when the old one would have')
  t.equal(rotated.issued.scope, 'read', 'rotation keeps the scope')
  t.equal(rotated.issued.name, 'dashboard-2')
  t.equal((await services.apiKeyResolver.resolve(rotated.issued.key)).keyScope, 'read')

  // A short grace shortens an expiry.
  const shortened = await services.apiKeys.rotateApiKey(rotated.issued.prefix, { graceMs: 60_000 })
  t.ok(
    shortened.old.expiresAt!.getTime() < expiresAt.getTime() && shortened.old.expiresAt!.getTime() <= Date.now() + 61_000,
    'a shorter grace brings the expiry forward',
  )

  // Grace 0 revokes at once, the cache included.
  const now = await services.apiKeys.rotateApiKey(issued.prefix, { graceMs: 0 })
  t.ok(now.old.revokedAt, 'grace 0 revokes')
  await t.rejects(services.apiKeyResolver.resolve(issued.key), { code: 'INVALID_API_KEY' })
  t.equal((await services.apiKeyResolver.resolve(now.issued.key)).id, tenant.id)
})

t.test('a cached old key is refused once its grace ends', async (t) => {
  const { services } = await setupServices(t)
  const { apiKey } = await makeTenant(services)
  await services.apiKeyResolver.resolve(apiKey.key) // cached, with no expiry
  const { old } = await services.apiKeys.rotateApiKey(apiKey.prefix, { graceMs: 400 })
  await services.apiKeyResolver.resolve(apiKey.key) // cached again, with the new expiry
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, old.expiresAt!.getTime() - Date.now()) + 5))
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { code: 'INVALID_API_KEY' }, 'the cache does not serve past the expiry')
})

t.test('refused rotations change nothing and say why', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  const revoked = await services.apiKeys.issueApiKey(tenant, { name: 'gone' })
  await services.apiKeys.revokeApiKey(revoked.prefix)
  const expired = await services.apiKeys.issueApiKey(tenant, { name: 'old', expiresAt: new Date(Date.now() + 60_000) })
  await db.sql`update public.api_keys set expires_at = now() - interval '1 second' where prefix = ${expired.prefix}`
  const { issued } = await services.apiKeys.rotateApiKey(apiKey.prefix, { graceMs: HOUR })
  const before = await snapshot(db.sql)

  await t.rejects(services.apiKeys.rotateApiKey(revoked.prefix, { graceMs: HOUR }), {
    code: 'KEY_NOT_ROTATABLE',
    message: `api key ${revoked.prefix} is revoked: revoke is final; create a new key`,
  })
  await t.rejects(services.apiKeys.rotateApiKey(expired.key, { graceMs: HOUR }), {
    code: 'KEY_NOT_ROTATABLE',
    message: /is expired: revoke is final; create a new key/,
  })
  await t.rejects(services.apiKeys.rotateApiKey(apiKey.prefix, { graceMs: HOUR }), {
    code: 'KEY_ALREADY_ROTATED',
    message: `api key ${apiKey.prefix} was already rotated to ${issued.prefix}; rotate that key instead`,
  })
  await t.rejects(services.apiKeys.rotateApiKey('tb_000000000000', { graceMs: HOUR }), {
    code: 'API_KEY_NOT_FOUND',
    message: /tb_000000000000/,
  })
  const wrongSecret = `${issued.prefix}_${'A'.repeat(43)}`
  await t.rejects(services.apiKeys.rotateApiKey(wrongSecret, { graceMs: HOUR }), { code: 'API_KEY_NOT_FOUND' }, 'a full key must match')
  await t.rejects(services.apiKeys.rotateApiKey('nonsense', { graceMs: HOUR }), { code: 'INVALID_KEY_PREFIX' })
  for (const graceMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await t.rejects(services.apiKeys.rotateApiKey(issued.prefix, { graceMs }), { code: 'INVALID_GRACE' }, `grace ${graceMs}`)
  }
  await t.rejects(services.apiKeys.issueApiKey(tenant, { scope: 'admin' }), { code: 'INVALID_KEY_SCOPE', message: /one of read, write/ })
  t.equal(await snapshot(db.sql), before, 'no key, expiry or audit row changed')
})

t.test('scopes: a read key reads; a write key does everything', async (t) => {
  const { services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  const reader = await services.apiKeys.issueApiKey(tenant, { scope: 'read' })
  t.equal(reader.scope, 'read')
  const asReader = await services.apiKeyResolver.resolve(reader.key)
  const asWriter = await services.apiKeyResolver.resolve(apiKey.key)
  t.doesNotThrow(() => assertKeyScope(asReader, 'read'))
  t.doesNotThrow(() => assertKeyScope(asWriter, 'read'))
  t.doesNotThrow(() => assertKeyScope(asWriter, 'write'))
  t.throws(() => assertKeyScope(asReader, 'write'), {
    code: 'INSUFFICIENT_SCOPE',
    message: 'this api key has scope read; this request needs scope write',
  })
  t.same(
    (await services.apiKeys.listApiKeys(tenant)).map((k) => k.scope),
    ['write', 'read'],
    'kept with each key',
  )
})

t.test('suspension: refused with 403 (cache included), data kept, idempotent both ways', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant, apiKey } = await makeTenant(services)
  const other = await makeTenant(services)
  await services.apiKeyResolver.resolve(apiKey.key) // cached

  const first = await services.tenants.suspendTenant(tenant.schemaName, { reason: 'invoice overdue' })
  t.ok(first.changed)
  t.ok(first.tenant.suspendedAt)
  t.equal(first.tenant.suspensionReason, 'invoice overdue')
  const refused = await services.apiKeyResolver.resolve(apiKey.key).catch((error: unknown) => error)
  t.type(refused, ForbiddenError)
  t.match(refused, { code: 'TENANT_SUSPENDED', message: 'this tenant is suspended' }, 'the reason is not shown unless asked')
  await t.rejects(
    services.apiKeyResolver.resolve(`${apiKey.prefix}_${'A'.repeat(43)}`),
    { code: 'INVALID_API_KEY' },
    'a wrong key is still 401',
  )
  t.equal((await services.apiKeyResolver.resolve(other.apiKey.key)).id, other.tenant.id, 'other tenants are served')

  const before = await snapshot(db.sql)
  const again = await services.tenants.suspendTenant(tenant.schemaName)
  t.notOk(again.changed, 'suspending a suspended tenant changes nothing')
  t.equal(again.tenant.suspensionReason, 'invoice overdue')
  t.notOk((await services.tenants.suspendTenant(tenant.schemaName, { reason: 'invoice overdue' })).changed, 'nor does the same reason')
  t.equal(await snapshot(db.sql), before, 'and writes no audit row')
  const updated = await services.tenants.suspendTenant(tenant.schemaName, { reason: 'something else' })
  t.match(updated, { changed: true, updatedInPlace: true, tenant: { suspensionReason: 'something else', suspensionReasonPublic: false } })
  t.same(updated.tenant.suspendedAt, first.tenant.suspendedAt, 'another reason: updated in place, suspended since the same time')
  const shownNow = await services.tenants.suspendTenant(tenant.schemaName, { showReason: true })
  t.match(shownNow.tenant, { suspensionReason: 'something else', suspensionReasonPublic: true }, '--show-reason alone keeps the reason')
  await t.rejects(
    services.apiKeyResolver.resolve(apiKey.key),
    { message: 'this tenant is suspended: something else' },
    'callers see it at once',
  )

  const [schema] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${tenant.schemaName}`
  t.equal(schema!.count, 1, 'the schema stays')
  const report = await services.migrateAll()
  t.equal(report.failed, 0, 'migrate still runs over a suspended tenant')

  t.ok((await services.tenants.resumeTenant(tenant.schemaName)).changed)
  t.equal((await services.apiKeyResolver.resolve(apiKey.key)).id, tenant.id, 'served again at once')
  t.notOk((await services.tenants.resumeTenant(tenant.schemaName)).changed, 'resuming an active tenant changes nothing')

  await services.tenants.suspendTenant(tenant.schemaName, { reason: 'maintenance until 14:00 UTC', showReason: true })
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), {
    code: 'TENANT_SUSPENDED',
    message: 'this tenant is suspended: maintenance until 14:00 UTC',
  })
  await t.rejects(services.tenants.suspendTenant('no_such_tenant'), { code: 'TENANT_NOT_FOUND' })
  await t.rejects(services.tenants.suspendTenant(tenant.schemaName, { reason: 'x'.repeat(501) }), { code: 'INVALID_SUSPENSION_REASON' })
  t.same(
    (await services.migrationStatus()).tenants.map((s) => [s.schemaName, s.suspended]),
    [
      [tenant.schemaName, true],
      [other.tenant.schemaName, false],
    ],
  )
})

t.test('the audit log: one row per action, in its transaction, with the actor; it outlives the tenant', async (t) => {
  const { db, services: base } = await setupServices(t)
  const services = await createServices({ sql: db.sql, config: FAST_CONFIG, actor: 'ann@ops' })
  const schemaName = randomSchema('audited')
  const { tenant, apiKey } = await services.tenants.createTenant({ name: 'Audited', schemaName })
  const second = await services.apiKeys.issueApiKey(tenant, { name: 'ci', scope: 'read' })
  const { issued } = await services.apiKeys.rotateApiKey(second.prefix, { graceMs: 90_000 })
  await services.apiKeys.revokeApiKey(apiKey.prefix)
  await services.apiKeys.revokeApiKey(apiKey.prefix) // already revoked: no second row
  await services.tenants.suspendTenant(schemaName, { reason: 'closing' })
  await services.tenants.resumeTenant(schemaName)
  await services.tenants.suspendTenant(schemaName)
  await services.tenants.deleteTenant(schemaName)
  await services.migrateAll()

  const events = await services.auditLog.listAuditEvents()
  t.same(
    events.map((e) => [e.action, e.schemaName, e.keyPrefix]),
    [
      ['migrate', null, null],
      ['tenant.delete', schemaName, null],
      ['tenant.suspend', schemaName, null],
      ['tenant.resume', schemaName, null],
      ['tenant.suspend', schemaName, null],
      ['key.revoke', schemaName, apiKey.prefix],
      ['key.rotate', schemaName, second.prefix],
      ['key.create', schemaName, second.prefix],
      ['tenant.create', schemaName, apiKey.prefix],
      ['migrate', null, null],
    ],
    'newest first, every action once, the deleted tenant included',
  )
  t.same(
    events.slice(0, -1).map((e) => e.actor),
    Array(9).fill('ann@ops'),
    'the actor given',
  )
  t.match(events.at(-1)!.actor, /.+@.+/, 'the setup migration ran as the OS user@host')
  t.match(events.find((e) => e.action === 'key.rotate')!.detail, { rotatedTo: issued.prefix, graceSeconds: 90, scope: 'read' })
  t.match(events.find((e) => e.action === 'tenant.suspend' && e.detail.reason)!.detail, { reason: 'closing', showReason: false })
  t.match(events[0]!.detail, { outcome: 'ok', migrated: 0, failed: [] })
  t.notMatch(JSON.stringify(events), /tb_[0-9a-f]{12}_/, 'never a key, only prefixes')

  t.same((await services.auditLog.listAuditEvents({ schemaName, action: 'tenant.suspend' })).length, 2)
  t.same(
    (await services.auditLog.listAuditEvents({ limit: 2 })).map((e) => e.action),
    ['migrate', 'tenant.delete'],
  )
  t.same(await services.auditLog.listAuditEvents({ since: new Date(Date.now() + 60_000) }), [])
  await t.rejects(services.auditLog.listAuditEvents({ action: 'key.steal' }), { code: 'INVALID_AUDIT_FILTER' })
  await t.rejects(services.auditLog.listAuditEvents({ limit: 0 }), { code: 'INVALID_AUDIT_FILTER' })
  await t.rejects(createServices({ sql: db.sql, actor: ' \n ' }), { code: 'INVALID_ACTOR' })

  // A refused action writes nothing: an active tenant's deletion, a taken schema.
  const active = await makeTenant(base)
  const before = await snapshot(db.sql)
  await t.rejects(services.tenants.deleteTenant(active.tenant.schemaName), { code: 'TENANT_ACTIVE' })
  await t.rejects(services.tenants.createTenant({ name: 'Again', schemaName: active.tenant.schemaName }), { code: 'SCHEMA_TAKEN' })
  t.equal(await snapshot(db.sql), before, 'no tenant, key or audit row changed')
})

t.test('a migrate run records its outcome, failures included', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant } = await makeTenant(services)
  // Core's migrations plus a tenant migration that fails.
  const dir = t.testdir({})
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
  const next = latestState(services.migrations.tenant).core! + 1
  await writeFile(path.join(dir, 'tenant', `${String(next).padStart(4, '0')}_breaks.sql`), 'select 1 / 0;\n')
  const failing = await createServices({ sql: db.sql, config: FAST_CONFIG, migrationsDir: dir, actor: 'ci@runner' })
  const report = await failing.migrateAll()
  t.equal(report.failed, 1)
  const [event] = await services.auditLog.listAuditEvents({ action: 'migrate', limit: 1 })
  t.match(event, { actor: 'ci@runner', schemaName: null, detail: { outcome: 'failed', failed: [tenant.schemaName], migrated: 0 } })
  await failing.migrateAll({ dryRun: true })
  t.equal((await services.auditLog.listAuditEvents({ action: 'migrate' })).length, 2, 'a dry run is not an action: no row')
})
