import t from 'tap'
import { parseJson, randomSchema, runCli, setupDatabase } from '../helpers.js'

// `tenantctl domains add|remove|list`, `registration` and `create --domain`, as CI runs them.

t.test('domains: add, list, primary, remove, audited; create --domain; registration open and closed', async (t) => {
  const { db, services } = await setupDatabase(t)
  const url = db.url
  const schema = randomSchema('dom')
  const other = randomSchema('oth')

  const created = await runCli(
    [
      'create',
      '--name',
      `Dom ${schema}`,
      '--address',
      '',
      '--schema',
      schema,
      '--domain',
      'Acme.Example.COM.',
      '--domain',
      'www.acme.example.com',
      '--json',
    ],
    { url },
  )
  t.equal(created.code, 0, created.stderr)
  t.same(parseJson<{ domains: string[] }>(t, created).domains, ['acme.example.com', 'www.acme.example.com'])
  const human = await runCli(['create', '--name', `Oth ${other}`, '--address', '', '--schema', other, '--domain', 'globex.test'], { url })
  t.equal(human.code, 0, human.stderr)
  t.match(human.stdout, /domains: globex\.test \(primary: globex\.test\)/)

  const added = await runCli(['domains', 'add', schema, 'Bücher.Example:8443', '--primary', '--json'], { url })
  t.equal(added.code, 0, added.stderr)
  t.match(parseJson(t, added), { changed: true, domain: { host: 'xn--bcher-kva.example', isPrimary: true, schemaName: schema } })
  const again = await runCli(['domains', 'add', schema, 'xn--bcher-kva.example'], { url })
  t.equal(again.code, 0)
  t.match(again.stdout, /already a domain of .* \(primary\): nothing changed/)

  const listed = await runCli(['domains', 'list', schema, '--json'], { url })
  t.same(
    parseJson<{ host: string; isPrimary: boolean }[]>(t, listed).map((d) => [d.host, d.isPrimary]),
    [
      ['xn--bcher-kva.example', true],
      ['acme.example.com', false],
      ['www.acme.example.com', false],
    ],
  )
  const table = await runCli(['domains', 'list'], { url })
  t.match(table.stdout, /HOST\s+SCHEMA\s+PRIMARY\s+ADDED/)
  t.match(table.stdout, new RegExp(`globex\\.test\\s+${other}\\s+primary`))

  const taken = await runCli(['domains', 'add', other, 'acme.example.com'], { url })
  t.equal(taken.code, 1, 'a host of another tenant: a conflict, exit 1')
  t.match(taken.stderr, /acme\.example\.com belongs to another tenant/)
  const ip = await runCli(['domains', 'add', other, '192.168.1.10', '--json'], { url })
  t.equal(ip.code, 2, 'not a host name: invalid input, exit 2')
  t.match(parseJson(t, ip), { error: { code: 'INVALID_HOST_NAME' } })
  t.match((await runCli(['domains', 'add', 'no_such_schema', 'x.example'], { url })).stderr, /no tenant with schema no_such_schema/)

  const removed = await runCli(['domains', 'remove', 'ACME.example.com'], { url })
  t.equal(removed.code, 0, removed.stderr)
  t.match(removed.stdout, new RegExp(`Removed acme\\.example\\.com from ${schema}`))
  const gone = await runCli(['domains', 'remove', 'acme.example.com', '--json'], { url })
  t.equal(gone.code, 1)
  t.match(parseJson(t, gone), { error: { code: 'DOMAIN_NOT_FOUND' } })

  const shown = await runCli(['show', schema], { url })
  t.match(shown.stdout, /domains\s+xn--bcher-kva\.example \(primary\), www\.acme\.example\.com/)
  t.match(shown.stdout, /sign-up\s+with an api key only/)
  const opened = await runCli(['registration', schema, 'open'], { url })
  t.equal(opened.code, 0, opened.stderr)
  t.match(opened.stdout, /is now open/)
  t.match((await runCli(['registration', schema, 'open'], { url })).stdout, /already open: nothing changed/)
  const bad = await runCli(['registration', schema, 'ajar'], { url })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /"ajar" is not a registration state; use open or closed/)
  t.match(parseJson(t, await runCli(['show', schema, '--json'], { url })), {
    openRegistration: true,
    domains: [
      { host: 'xn--bcher-kva.example', isPrimary: true },
      { host: 'www.acme.example.com', isPrimary: false },
    ],
  })
  t.match(parseJson(t, await runCli(['registration', schema, 'closed', '--json'], { url })), { openRegistration: false, changed: true })

  const audit = await runCli(['audit', '--schema', schema, '--json'], { url })
  t.same(
    parseJson<{ action: string }[]>(t, audit).map((e) => e.action),
    ['tenant.registration', 'tenant.registration', 'domain.remove', 'domain.add', 'tenant.create'],
    'each change audited, newest first',
  )
  t.equal((await services.domains.listDomains(schema)).length, 2)
})
