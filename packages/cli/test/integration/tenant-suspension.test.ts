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
  await t.rejects(services.apiKeys.resolveApiKey(apiKey.key), { code: 'TENANT_SUSPENDED' }, 'refused at once')

  const before = await snapshot(db.sql)
  const twice = await runCli(['suspend', schema, '--reason', 'other'], plain)
  t.equal(twice.code, 0, 'suspending a suspended tenant exits 0')
  t.match(twice.stdout, new RegExp(`${schema} is already suspended \\(since .*\\): nothing changed`))
  t.equal(await snapshot(db.sql), before, 'and changes nothing')

  t.match((await runCli(['list'], plain)).stdout, new RegExp(`${schema}\\s+suspended\\s+1\\s+`))
  t.match((await runCli(['show', schema], plain)).stdout, /state\s+suspended since \d{4}-\d\d-\d\dT\d\d:\d\dZ \(invoice overdue\)/)
  t.match((await runCli(['status'], plain)).stdout, new RegExp(`${schema} \\(suspended\\)\\s+\\d+\\s+-`))
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
  t.equal((await services.apiKeys.resolveApiKey(apiKey.key)).schemaName, schema, 'served again')
  const resumedTwice = await runCli(['resume', schema], plain)
  t.equal(resumedTwice.code, 0)
  t.match(resumedTwice.stdout, /is not suspended \(already active\): nothing changed/)

  t.equal((await runCli(['suspend', schema], plain)).code, 0)
  const deleted = await runCli(['delete', schema, '--yes'], plain)
  t.equal(deleted.code, 0, `a suspended tenant is deleted without --force ${deleted.stderr}`)
  const [gone] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schema}`
  t.equal(gone!.count, 0)
})
