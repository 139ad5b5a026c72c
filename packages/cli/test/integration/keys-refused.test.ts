import t from 'tap'
import { createTenantByCli, parseJson, randomSchema, runCli, setupDatabase, snapshot, type KeyJson } from '../helpers.js'

t.test('refused key commands exit 1 or 2, say why, and change nothing', async (t) => {
  const { db } = await setupDatabase(t)
  const url = db.url
  const schema = randomSchema('bad')
  const { apiKey } = await createTenantByCli(t, url, schema)
  const revoked = parseJson<{ apiKey: KeyJson }>(t, await runCli(['keys', 'create', schema, '--name', 'gone', '--json'], { url })).apiKey
  t.equal((await runCli(['keys', 'revoke', revoked.prefix], { url })).code, 0)
  const expiring = parseJson<{ apiKey: KeyJson }>(
    t,
    await runCli(['keys', 'create', schema, '--name', 'old', '--expires-in', '90s', '--json'], { url }),
  ).apiKey
  await db.sql`update public.api_keys set expires_at = now() - interval '1 second' where prefix = ${expiring.prefix}`
  t.equal((await runCli(['keys', 'rotate', apiKey.prefix], { url })).code, 0)
  const before = await snapshot(db.sql)

  const cases: [string[], number, RegExp][] = [
    [['keys', 'rotate', 'tb_000000000000'], 1, /no api key with prefix tb_000000000000/],
    [['keys', 'rotate', revoked.prefix], 1, new RegExp(`api key ${revoked.prefix} is revoked: revoke is final; create a new key`)],
    [['keys', 'rotate', expiring.prefix], 1, new RegExp(`api key ${expiring.prefix} is expired: revoke is final; create a new key`)],
    [
      ['keys', 'rotate', apiKey.prefix],
      1,
      new RegExp(`api key ${apiKey.prefix} was already rotated to tb_[0-9a-f]{12}; rotate that key instead`),
    ],
    [
      ['keys', 'rotate', apiKey.prefix, '--grace', '3 days'],
      2,
      /--grace: "3 days" is not a duration; use a whole number and a unit: 90s, 15m, 24h, 30d, 2w or 1y \(or 0\)/,
    ],
    [['keys', 'rotate', apiKey.prefix, '--grace=-2h'], 2, /--grace: "-2h" is not a duration/],
    [['keys', 'rotate', 'not-a-key'], 2, /a key is named by its prefix \(tb_ followed by 12 hex digits\) or by the whole key/],
    [['keys', 'create', schema, '--scope', 'admin'], 2, /--scope: "admin" is not a scope; use read or write/],
    [['keys', 'create', schema, '--expires-in', '1.5h'], 2, /--expires-in: "1.5h" is not a duration/],
    [
      ['keys', 'create', schema, '--scope', 'read'],
      2,
      new RegExp(
        `missing --name: name the key for what will use it \\(such as --name ci or --name dashboard\\), so that \`tenantctl keys list ${schema}\``,
      ),
    ],
    [['delete', schema, '--yes'], 1, new RegExp(`${schema} is active: suspend it first`)],
    [['suspend', 'no_such_tenant'], 1, /no tenant with schema no_such_tenant/],
    [['create', '--name', 'Again', '--address', '', '--schema', schema], 1, /already taken/],
    [['list', '--actor', ''], 2, /the actor must be 1 to 200 printable characters/],
  ]
  for (const [args, code, message] of cases) {
    const result = await runCli(args, { url })
    t.equal(result.code, code, `tenantctl ${args.join(' ')} exits ${code}`)
    t.match(result.stderr, message, `tenantctl ${args.join(' ')} says why`)
    t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')
  }
  t.equal(await snapshot(db.sql), before, 'no tenant, key, schema or audit row changed')
})
