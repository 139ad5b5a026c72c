import t, { type Test } from 'tap'
import { createPool, createServices } from '../../src/index.js'
import { FAST_CONFIG, makeTenant, randomSchema, setupServices } from '../helpers.js'

/** A hang guard only: the figures printed are what the test measures. */
const DEADLINE_MS = 10_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function msUntil(check: () => Promise<boolean>): Promise<number | undefined> {
  const started = Date.now()
  while (Date.now() - started < DEADLINE_MS) {
    if (await check()) return Date.now() - started
    await sleep(5)
  }
  return undefined
}

/** Another process's services on the same database, its caches living an hour: only NOTIFY evicts them. */
async function otherProcess(t: Test, url: string, baseDomain?: string) {
  const sql = createPool(url, { max: 2 })
  t.teardown(() => sql.end({ timeout: 1 }))
  return createServices({
    sql,
    config: { ...FAST_CONFIG, apiKeyCache: { ttlMs: 3_600_000, max: 1000 }, ...(baseDomain && { tenantResolution: { baseDomain } }) },
  })
}

t.test('domains: added normalised, one primary, unique across tenants, removed, listed, audited', async (t) => {
  const { services } = await setupServices(t)
  const { tenant: acme } = await makeTenant(services, 'acme')
  const { tenant: globex } = await makeTenant(services, 'globex')

  const first = await services.domains.addDomain(acme.schemaName, 'Shop.Acme.TEST.')
  t.same([first.domain.host, first.domain.isPrimary, first.changed], ['shop.acme.test', true, true], 'the first domain is the primary')
  const second = await services.domains.addDomain(acme.schemaName, 'bücher.acme.test:8443')
  t.same([second.domain.host, second.domain.isPrimary], ['xn--bcher-kva.acme.test', false])
  const again = await services.domains.addDomain(acme.schemaName, 'SHOP.acme.test')
  t.equal(again.changed, false, 'adding a domain again changes nothing')

  await t.rejects(services.domains.addDomain(globex.schemaName, 'shop.acme.test'), { code: 'DOMAIN_TAKEN', name: 'ConflictError' })
  await t.rejects(services.domains.addDomain(globex.schemaName, '10.0.0.1'), { code: 'INVALID_HOST_NAME' })
  await t.rejects(services.domains.addDomain('no_such_tenant', 'x.acme.test'), { code: 'TENANT_NOT_FOUND' })

  const promoted = await services.domains.addDomain(acme.schemaName, 'xn--bcher-kva.acme.test', { primary: true })
  t.same([promoted.changed, promoted.domain.isPrimary], [true, true], '--primary moves the primary')
  const listed = await services.domains.listDomains(acme.schemaName)
  t.same(
    listed.map((d) => [d.host, d.isPrimary]),
    [
      ['xn--bcher-kva.acme.test', true],
      ['shop.acme.test', false],
    ],
    'one primary, listed first',
  )

  const removed = await services.domains.removeDomain('XN--BCHER-KVA.acme.test')
  t.equal(removed.isPrimary, true)
  t.same(
    (await services.domains.listDomains(acme.schemaName)).map((d) => [d.host, d.isPrimary]),
    [['shop.acme.test', true]],
    'removing the primary promotes the oldest other',
  )
  await t.rejects(services.domains.removeDomain('bücher.acme.test'), { code: 'DOMAIN_NOT_FOUND' })
  t.same(await services.domains.listDomains(globex.schemaName), [])
  t.equal((await services.domains.listDomains()).length, 1, 'every tenant’s domains')

  const actions = (await services.auditLog.listAuditEvents({ schemaName: acme.schemaName })).map((e) => [e.action, e.detail.host])
  t.same(
    actions.filter(([action]) => String(action).startsWith('domain.')),
    [
      ['domain.remove', 'xn--bcher-kva.acme.test'],
      ['domain.add', 'xn--bcher-kva.acme.test'],
      ['domain.add', 'xn--bcher-kva.acme.test'],
      ['domain.add', 'shop.acme.test'],
    ],
    'each change audited once, no-ops not at all',
  )

  const withDomains = await services.tenants.createTenant({
    name: 'Initech',
    schemaName: randomSchema('initech'),
    domains: ['Initech.TEST', 'www.initech.test', 'initech.test.'],
  })
  t.same(withDomains.domains, ['initech.test', 'www.initech.test'], 'create normalises and deduplicates its domains')
  t.same(
    (await services.domains.listDomains(withDomains.tenant.schemaName)).map((d) => [d.host, d.isPrimary]),
    [
      ['initech.test', true],
      ['www.initech.test', false],
    ],
  )
  const schema = randomSchema('dup')
  await t.rejects(services.tenants.createTenant({ name: 'Dup', schemaName: schema, domains: ['shop.acme.test'] }), { code: 'DOMAIN_TAKEN' })
  await t.rejects(services.tenants.getTenant(schema), { code: 'TENANT_NOT_FOUND' }, 'a taken domain creates nothing')
  await t.rejects(services.tenants.createTenant({ name: 'Bad', schemaName: randomSchema('bad'), domains: ['::1'] }), {
    code: 'INVALID_HOST_NAME',
  })

  t.same((await services.domains.setOpenRegistration(acme.schemaName, true)).changed, true, 'open registration switched on')
  t.equal((await services.domains.setOpenRegistration(acme.schemaName, true)).changed, false, 'idempotent')
  t.equal((await services.auditLog.listAuditEvents({ action: 'tenant.registration' })).length, 1)

  await services.tenants.deleteTenant(acme.schemaName, { force: true })
  t.same(
    await services.domains.listDomains(),
    (await services.domains.listDomains()).filter((d) => d.tenantId !== acme.id),
  )
  t.notOk(
    (await services.domains.listDomains()).some((d) => d.host === 'shop.acme.test'),
    "a deleted tenant's domains go with it",
  )
})

t.test('a host to its tenant: domain, subdomain of the base domain, none; evicted on every process by NOTIFY', async (t) => {
  const { db, services } = await setupServices(t)
  const { tenant: acme } = await makeTenant(services, 'acme')
  const { tenant: globex } = await makeTenant(services, 'globex')
  await services.domains.addDomain(globex.schemaName, 'globex.test')

  const other = await otherProcess(t, db.url, 'tenants.test')
  const listener = await other.listenForRevocations()
  t.teardown(() => listener.stop())
  const resolve = (host: string) => other.hostResolver.resolveHost(host)

  t.equal((await resolve(`${acme.schemaName}.tenants.test`))?.id, acme.id, 'a subdomain names the tenant of that schema')
  t.equal((await resolve(`${acme.schemaName.toUpperCase()}.Tenants.Test.:8000`))?.id, acme.id, 'in any case, with a port, a trailing dot')
  t.equal((await resolve('GLOBEX.test'))?.id, globex.id, 'a domain names its tenant')
  t.equal(await resolve('tenants.test'), undefined, 'the base domain itself names none')
  t.equal(await resolve('nobody.tenants.test'), undefined)
  t.equal(await resolve(`x.${acme.schemaName}.tenants.test`), undefined, 'only one label')
  for (const host of ['127.0.0.1', '[::1]:8000', 'localhost', '', 'x'.repeat(70_000)])
    t.equal(await resolve(host), undefined, host.slice(0, 20))

  // A domain wins over a schema of the same label.
  await services.domains.addDomain(globex.schemaName, `${acme.schemaName}.tenants.test`)
  const swapped = await msUntil(async () => (await resolve(`${acme.schemaName}.tenants.test`))?.id === globex.id)
  t.ok(swapped !== undefined, `a domain added is seen by the other process (after ${swapped} ms)`)
  t.comment(`a domain added reached the other process's host cache in ${swapped} ms`)
  await services.domains.removeDomain(`${acme.schemaName}.tenants.test`)

  t.ok(await resolve('globex.test'), 'cached')
  const removedAt = Date.now()
  await services.domains.removeDomain('globex.test')
  const removedAfter = await msUntil(async () => (await resolve('globex.test')) === undefined)
  t.ok(removedAfter !== undefined, 'a removed domain names no tenant in the other process')
  t.comment(`a removed domain was refused by the other process ${Date.now() - removedAt} ms after its removal (target 1 s)`)

  const before = await resolve(`${acme.schemaName}.tenants.test`)
  t.equal(before?.suspended, null)
  t.equal(before?.openRegistration, false, 'registration is closed by default')
  await services.tenants.suspendTenant(acme.schemaName, { reason: 'unpaid', showReason: true })
  const suspendedAfter = await msUntil(async () => (await resolve(`${acme.schemaName}.tenants.test`))?.suspended != null)
  t.ok(suspendedAfter !== undefined, 'a suspension reaches the other process')
  t.match((await resolve(`${acme.schemaName}.tenants.test`))?.suspended, /suspended: unpaid/)
  await services.tenants.resumeTenant(acme.schemaName)
  await services.domains.setOpenRegistration(acme.schemaName, true)
  const opened = await msUntil(async () => (await resolve(`${acme.schemaName}.tenants.test`))?.openRegistration === true)
  t.ok(opened !== undefined, 'opening registration reaches the other process')

  t.equal(await resolve('late.tenants.test'), undefined, 'cached as naming no tenant')
  await services.tenants.createTenant({ name: 'Late', schemaName: 'late' })
  const created = await msUntil(async () => (await resolve('late.tenants.test'))?.schemaName === 'late')
  t.ok(created !== undefined, 'a tenant created is found by its subdomain on the other process')
  t.ok(other.hostResolver.cacheCounts().hits > 0, 'answers come from the cache')
})
