import t from 'tap'
import { randomSchema, runCli, setupDatabase } from '../helpers.js'

// Every time the cli prints carries its zone.

t.test('every time printed says its zone: ISO 8601 in UTC', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('time')
  const { tenant } = await services.tenants.createTenant({ name: `Time ${schema}`, schemaName: schema })
  await services.apiKeys.issueApiKey(tenant, { name: 'expiring', expiresAt: new Date(Date.now() + 86_400_000) })
  const iso = /\d{4}-\d\d-\d\dT\d\d:\d\dZ/
  const created = tenant.createdAt.toISOString().slice(0, 16) + 'Z'
  for (const args of [
    ['list'],
    ['show', schema],
    ['keys', 'list', schema],
    ['keys', 'create', schema, '--name', 'ci', '--expires-in', '1d'],
  ]) {
    const result = await runCli(args, { url: db.url })
    t.equal(result.code, 0, result.stderr)
    t.match(result.stdout, iso, `${args.join(' ')}: ISO 8601 with Z`)
    t.notMatch(result.stdout, /\d{4}-\d\d-\d\d \d\d:\d\d/, `${args.join(' ')}: no time without its zone`)
    if (args[0] !== 'keys') t.match(result.stdout, created, 'the creation time, in UTC')
  }
})
