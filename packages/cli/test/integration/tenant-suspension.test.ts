import t from 'tap'
import { createTenantByCli, parseJson, randomSchema, runCli, setupDatabase, snapshot } from '../helpers.js'

t.test('suspend and resume: idempotent, shown by list, show and status; delete wants a suspension or --force', async (t) => {
  const { db, services } = await setupDatabase(t)
  const url = db.url
  const schema = randomSchema('sus')
  const { apiKey } = await createTenantByCli(t, url, schema)
  const plain = { url, env: { NO_COLOR: '1' } }

  const suspended = await runCli(['suspend', schema, '--reason', 'invoice overdue'], plain)
  t.equal(suspended.code, 0, suspended.stderr)
  t.match(
    suspended.stdout,
    new RegExp(
      `Suspended Tenant ${schema} \\(${schema}\\): its requests get 403 TENANT_SUSPENDED; its data and keys are kept\\. Reason: invoice overdue\\.`,
    ),
  )
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { code: 'TENANT_SUSPENDED' }, 'refused at once')

  const before = await snapshot(db.sql)
  const twice = await runCli(['suspend', schema], plain)
  t.equal(twice.code, 0, 'suspending a suspended tenant exits 0')
  t.match(
    twice.stdout,
    new RegExp(`${schema} is already suspended \\(since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\dZ\\): nothing changed\\. Pass --reason`),
    'since when, to the minute, and how to change the reason',
  )
  t.equal(await snapshot(db.sql), before, 'and changes nothing')
  const same = await runCli(['suspend', schema, '--reason', 'invoice overdue'], plain)
  t.match(same.stdout, /nothing changed\.$/m, 'the same reason again changes nothing')
  t.equal(await snapshot(db.sql), before)

  t.match((await runCli(['list'], plain)).stdout, new RegExp(`${schema}\\s+suspended\\s+1\\s+`))
  t.match((await runCli(['show', schema], plain)).stdout, /state\s+suspended since \d{4}-\d\d-\d\dT\d\d:\d\dZ \(invoice overdue\)/)
  t.match((await runCli(['status'], plain)).stdout, new RegExp(`${schema} \\(suspended\\)\\s+core \\d+\\s+-`))
  t.match(parseJson<{ suspendedAt: string | null }[]>(t, await runCli(['list', '--json'], { url }))[0], {
    suspendedAt: /^\d{4}-/,
    suspensionReason: 'invoice overdue',
  })
  t.match(parseJson<{ tenants: object[] }>(t, await runCli(['status', '--json'], { url })).tenants[0], {
    schemaName: schema,
    suspended: true,
  })

  const migrated = await runCli(['migrate', '--json'], { url })
  t.equal(migrated.code, 0, 'migrate runs with a suspended tenant')

  const resumed = await runCli(['resume', schema], plain)
  t.equal(resumed.code, 0)
  t.match(resumed.stdout, /Resumed .*: its requests are served again/)
  t.equal((await services.apiKeyResolver.resolve(apiKey.key)).schemaName, schema, 'served again')
  const resumedTwice = await runCli(['resume', schema], plain)
  t.equal(resumedTwice.code, 0)
  t.match(resumedTwice.stdout, /is not suspended \(already active\): nothing changed/)

  t.equal((await runCli(['suspend', schema], plain)).code, 0)
  const deleted = await runCli(['delete', schema, '--yes'], plain)
  t.equal(deleted.code, 0, `a suspended tenant is deleted without --force ${deleted.stderr}`)
  const [gone] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schema}`
  t.equal(gone!.count, 0)
})

t.test('suspend on a suspended tenant changes its reason and its visibility in place, audited', async (t) => {
  const { db, services } = await setupDatabase(t)
  const url = db.url
  const schema = randomSchema('reason')
  const { apiKey } = await createTenantByCli(t, url, schema)
  const plain = { url, env: { NO_COLOR: '1' } }
  t.equal((await runCli(['suspend', schema, '--reason', 'hidden'], plain)).code, 0)
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { message: 'this tenant is suspended' }, 'the reason is not shown')
  const { suspendedAt } = await services.tenants.getTenant(schema)

  const shown = await runCli(['suspend', schema, '--reason', 'shown', '--show-reason'], plain)
  t.equal(shown.code, 0, shown.stderr)
  t.match(
    shown.stdout,
    new RegExp(
      `Updated the suspension of Tenant ${schema} \\(${schema}, suspended since \\S+Z\\): reason now: shown \\(shown to its callers\\)\\.`,
    ),
  )
  const tenant = await services.tenants.getTenant(schema)
  t.match(tenant, { suspensionReason: 'shown', suspensionReasonPublic: true }, 'updated in place')
  t.same(tenant.suspendedAt, suspendedAt, 'still suspended since the same time')
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { message: 'this tenant is suspended: shown' }, 'callers now see it')

  const hidden = await runCli(['suspend', schema, '--json'], { url })
  t.match(parseJson(t, hidden), { changed: false }, 'no flag: nothing changed')
  const hide = await runCli(['suspend', schema, '--reason', 'shown', '--json'], { url })
  t.match(parseJson(t, hide), { changed: true, updatedInPlace: true, tenant: { suspensionReason: 'shown', suspensionReasonPublic: false } })

  const audit = parseJson<{ detail: Record<string, unknown> }[]>(
    t,
    await runCli(['audit', '--action', 'tenant.suspend', '--json'], { url }),
  )
  t.same(
    audit.map((event) => event.detail),
    [
      { reason: 'shown', showReason: false, previous: { reason: 'shown', showReason: true } },
      { reason: 'shown', showReason: true, previous: { reason: 'hidden', showReason: false } },
      { reason: 'hidden', showReason: false },
    ],
    'each change is one audit row, newest first, naming what it replaced',
  )
})
