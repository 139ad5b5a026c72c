import { hostname, userInfo } from 'node:os'
import t from 'tap'
import { createTenantByCli, parseJson, randomSchema, runCli, setupDatabase, type KeyJson } from '../helpers.js'

t.test('tenantctl audit: every action once, newest first, with its actor; it outlives the tenant', async (t) => {
  const { db } = await setupDatabase(t)
  const url = db.url
  const schema = randomSchema('aud')
  const other = randomSchema('aud')
  const { apiKey } = await createTenantByCli(t, url, schema, 'ann@ops')
  await createTenantByCli(t, url, other)
  const as = (actor: string) => ({ url, env: { TENANTCTL_ACTOR: actor } })
  const created = parseJson<{ apiKey: KeyJson }>(
    t,
    await runCli(['keys', 'create', schema, '--name', 'reader', '--scope', 'read', '--json'], as('bob@ci')),
  ).apiKey
  t.equal((await runCli(['keys', 'rotate', created.prefix, '--grace', '15m'], as('bob@ci'))).code, 0)
  t.equal(
    (await runCli(['keys', 'revoke', apiKey.prefix, '--actor', 'cid@desk'], as('bob@ci'))).code,
    0,
    '--actor wins over TENANTCTL_ACTOR',
  )
  t.equal((await runCli(['suspend', schema, '--reason', 'closing'], { url })).code, 0)
  t.equal((await runCli(['resume', schema], { url })).code, 0)
  t.equal((await runCli(['delete', schema, '--yes', '--force'], { url })).code, 0)
  t.equal((await runCli(['migrate'], as('deploy@ci'))).code, 0)
  // A refused action writes no row.
  t.equal((await runCli(['delete', other, '--yes'], { url })).code, 1)
  t.equal((await runCli(['keys', 'rotate', apiKey.prefix], { url })).code, 1)

  const osUser = `${userInfo().username}@${hostname()}`
  const events = parseJson<
    {
      action: string
      schemaName: string | null
      keyPrefix: string | null
      actor: string
      detail: Record<string, unknown>
      occurredAt: string
    }[]
  >(t, await runCli(['audit', '--json'], { url }))
  t.same(
    events.map((e) => [e.action, e.schemaName, e.actor]),
    [
      ['migrate', null, 'deploy@ci'],
      ['tenant.delete', schema, osUser],
      ['tenant.resume', schema, osUser],
      ['tenant.suspend', schema, osUser],
      ['key.revoke', schema, 'cid@desk'],
      ['key.rotate', schema, 'bob@ci'],
      ['key.create', schema, 'bob@ci'],
      ['tenant.create', other, osUser],
      ['tenant.create', schema, 'ann@ops'],
      ['migrate', null, osUser],
    ],
    'newest first; --actor, else TENANTCTL_ACTOR, else user@host',
  )
  t.same(
    events.map((e) => e.occurredAt),
    [...events.map((e) => e.occurredAt)].sort().reverse(),
    'ordered by time',
  )
  t.match(
    events.find((e) => e.action === 'key.rotate'),
    { keyPrefix: created.prefix, detail: { graceSeconds: 900, scope: 'read' } },
  )
  t.match(events[0], { detail: { outcome: 'ok' } })
  t.notMatch(JSON.stringify(events), /tb_[0-9a-f]{12}_/, 'never a key')

  const bySchema = parseJson<{ action: string }[]>(
    t,
    await runCli(['audit', '--schema', schema, '--action', 'tenant.suspend', '--since', '1h', '--json'], { url }),
  )
  t.same(
    bySchema.map((e) => e.action),
    ['tenant.suspend'],
    'filters combine; the deleted tenant is still there',
  )
  t.same(parseJson<unknown[]>(t, await runCli(['audit', '--limit', '3', '--json'], { url })).length, 3)

  const table = await runCli(['audit', '--schema', schema, '--limit', '2'], { url, env: { NO_COLOR: '1' } })
  t.equal(table.code, 0)
  t.match(table.stdout, /WHEN \(UTC\)\s+ACTION\s+SCHEMA\s+KEY\s+ACTOR\s+DETAIL/)
  t.match(
    table.stdout,
    new RegExp(
      `\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+tenant\\.delete\\s+${schema}\\s+-\\s+${osUser.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+name=Tenant ${schema} force=true wasSuspended=false`,
    ),
  )
  t.equal(table.stdout.trim().split('\n').length, 3, 'a header and two rows')

  const resumed = await runCli(['audit', '--schema', schema, '--action', 'tenant.resume'], { url, env: { NO_COLOR: '1' } })
  t.match(resumed.stdout, /reason=closing suspendedAt=\d{4}-\d\d-\d\dT\d\d:\d\dZ$/m, 'a time in a detail, to the minute')
  t.notMatch(resumed.stdout, /\d\d:\d\d\.\d{3}Z/, 'never with milliseconds')
})
