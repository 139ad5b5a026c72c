import t from 'tap'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

// The scripted commands as CI runs them: a child process with no terminal, --json parsed.

t.test('create, list, show, keys and delete by flags, with --json', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('json')
  const url = db.url

  const created = await runCli(
    ['create', '--name', `Json ${schema}`, '--address', '2 Side St', '--schema', schema, '--key-name', 'ci', '--json'],
    { url },
  )
  t.equal(created.code, 0, created.stderr)
  const { tenant, apiKey } = parseJson<{
    tenant: { id: number; schemaName: string }
    apiKey: { key: string; prefix: string; name: string }
  }>(t, created)
  t.equal(tenant.schemaName, schema)
  t.equal(apiKey.name, 'ci')
  t.equal((await services.apiKeyResolver.resolve(apiKey.key)).id, tenant.id, 'the key printed works')
  t.equal(created.stderr, '', 'nothing on stderr')

  const listed = await runCli(['list', '--json'], { url })
  t.equal(listed.code, 0)
  const rows = parseJson<{ schemaName: string; activeKeys: number; migrations: Record<string, number> }[]>(t, listed)
  t.same(
    rows.map((row) => [row.schemaName, row.activeKeys, row.migrations.core]),
    [[schema, 1, services.migrations.tenant.at(-1)!.version]],
  )

  const human = await runCli(['list'], { url })
  t.match(human.stdout, /NAME\s+SCHEMA\s+STATE\s+ACTIVE KEYS\s+MIGRATIONS\s+CREATED/)
  t.match(human.stdout, new RegExp(`Json ${schema}\\s+${schema}\\s+active\\s+1\\s+core \\d+`))
  t.notMatch(human.stdout, /\u001b\[/, 'no colour without a terminal')

  const issued = await runCli(['keys', 'create', schema, '--name', 'temp', '--expires-in', '7d', '--json'], { url })
  t.equal(issued.code, 0, issued.stderr)
  const second = parseJson<{ apiKey: { key: string; prefix: string; expiresAt: string } }>(t, issued).apiKey
  t.ok(new Date(second.expiresAt).getTime() > Date.now() + 6 * 86_400_000, 'expires in about a week')

  const revoked = await runCli(['keys', 'revoke', second.prefix, '--json'], { url })
  t.equal(revoked.code, 0)
  t.ok(parseJson<{ revokedAt: string | null }>(t, revoked).revokedAt)
  await t.rejects(services.apiKeyResolver.resolve(second.key), { code: 'INVALID_API_KEY' }, 'a revoked key no longer resolves')

  const keys = parseJson<{ prefix: string; status: string }[]>(t, await runCli(['keys', 'list', schema, '--json'], { url }))
  t.same(
    keys.map((k) => [k.prefix, k.status]),
    [
      [apiKey.prefix, 'active'],
      [second.prefix, 'revoked'],
    ],
  )

  const shown = parseJson<{ tenant: { schemaName: string }; keys: { prefix: string }[]; migrations: { pending: string[] } }>(
    t,
    await runCli(['show', schema, '--json'], { url }),
  )
  t.equal(shown.tenant.schemaName, schema)
  t.same(
    shown.keys.map((k) => k.prefix),
    [apiKey.prefix, second.prefix],
  )
  t.same(shown.migrations.pending, [])
  t.notMatch(JSON.stringify(shown), /tb_[0-9a-f]{12}_/, 'show never prints a key, only prefixes')

  const refused = await runCli(['delete', schema, '--yes'], { url })
  t.equal(refused.code, 1, 'an active tenant is not deleted without --force')
  t.match(refused.stderr, new RegExp(`${schema} is active: suspend it first .*or pass --force`))
  const deleted = await runCli(['delete', schema, '--yes', '--force', '--json'], { url })
  t.equal(deleted.code, 0, deleted.stderr)
  t.equal(parseJson<{ keysRevoked: number }>(t, deleted).keysRevoked, 2)
  await t.rejects(services.apiKeyResolver.resolve(apiKey.key), { code: 'INVALID_API_KEY' })
  const [gone] = await db.sql`select count(*)::int as count from pg_namespace where nspname = ${schema}`
  t.equal(gone!.count, 0, 'the schema is dropped')
})

t.test('no terminal and a missing flag exits 2 at once, without waiting for input', async (t) => {
  const { db } = await setupDatabase(t)
  // stdin is a pipe left open: a cli that prompted would wait for ever (and the guard kill it).
  const create = await runCli(['create', '--name', 'Half'], { url: db.url })
  t.equal(create.signal, null, 'not killed by the guard')
  t.equal(create.code, 2)
  t.match(create.stderr, /missing --address, --schema: without a terminal/)
  const remove = await runCli(['delete', 'anything'], { url: db.url })
  t.equal(remove.code, 2)
  t.match(remove.stderr, /without a terminal pass --yes/)
  const [{ count } = { count: -1 }] = await db.sql`select count(*)::int as count from public.tenants`
  t.equal(count, 0)
})

t.test('errors are one readable line; the stack only with --verbose', async (t) => {
  const { db } = await setupDatabase(t)
  const missing = await runCli(['show', 'no_such_tenant'], { url: db.url })
  t.equal(missing.code, 1)
  t.equal(missing.stderr, 'error: no tenant with schema no_such_tenant\n')

  const conflict = randomSchema('dup')
  t.equal((await runCli(['create', '--name', 'Dup', '--address', '', '--schema', conflict], { url: db.url })).code, 0)
  const again = await runCli(['create', '--name', 'Dup', '--address', '', '--schema', randomSchema('dup')], { url: db.url })
  t.equal(again.code, 1)
  t.equal(again.stderr, 'error: a tenant named "Dup" already exists\n')

  const badPrefix = await runCli(['keys', 'revoke', 'not-a-prefix'], { url: db.url })
  t.equal(badPrefix.code, 2, 'invalid input exits 2')
  t.match(badPrefix.stderr, /^error: a key is named by its prefix \(tb_ followed by 12 hex digits\) or by the whole key/)

  const verbose = await runCli(['show', 'no_such_tenant', '--verbose'], { url: db.url })
  t.equal(verbose.code, 1)
  t.match(verbose.stderr, /NotFoundError: no tenant with schema no_such_tenant\n\s+at /, 'stack with --verbose')

  const unreachable = await runCli(['list'], { url: 'postgres://nobody:nothing@127.0.0.1:1/none' })
  t.equal(unreachable.code, 1)
  t.match(unreachable.stderr, /^error: database unreachable at 127\.0\.0\.1:1: .*\n$/)
})

t.test('status is a CI gate: exit 1 while anything is pending', async (t) => {
  const { db, services } = await setupDatabase(t)
  const schema = randomSchema('gate')
  await services.tenants.createTenant({ name: `Gate ${schema}`, schemaName: schema })
  const ok = await runCli(['status', '--json'], { url: db.url })
  t.equal(ok.code, 0)
  const report = parseJson<{ ok: boolean; tenants: { schemaName: string; pending: string[] }[] }>(t, ok)
  t.equal(report.ok, true)
  t.same(
    report.tenants.map((row) => [row.schemaName, row.pending]),
    [[schema, []]],
  )

  await db.sql`update public.tenants set migrations = '{"core": 1}' where schema_name = ${schema}`
  const behind = await runCli(['status'], { url: db.url })
  t.equal(behind.code, 1)
  t.match(behind.stdout, new RegExp(`${schema}\\s+core 1\\s+core/0002_`))
  t.match(behind.stderr, /migrations are pending \(1 tenant\)/)
})
